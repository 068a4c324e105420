import Foundation

/// CodeDeploy's operations for the deployments `shift deploy` records in the state directory.
///
/// Local names: one application, `ServerlessDeploymentApplication` (SAM's logical id), and one deployment group
/// per function, `<function>DeploymentGroup`, as SAM makes them. Deployment ids are shift's (UUIDs).
extension InvokeAPIRouter {
    static let applicationName = "ServerlessDeploymentApplication"

    static func deploymentGroupName(_ function: String) -> String { function + "DeploymentGroup" }

    /// A deployment id: shift's UUIDs, or AWS's `d-` and nine characters; anything else is AWS's InvalidDeploymentIdException.
    private func deployment(_ body: [String: Any]) async throws -> DeploymentRecord {
        guard let id = body["deploymentId"] as? String, !id.isEmpty else {
            throw StateError(.validation, "The deploymentId is required; shift deploy --output json prints it (deployment.started).",
                             awsErrorType: "DeploymentIdRequiredException")
        }
        let isAWSForm = id.count == 11 && id.hasPrefix("d-") && id.dropFirst(2).allSatisfy { $0.isASCII && ($0.isUppercase || $0.isNumber) }
        guard UUID(uuidString: id) != nil || isAWSForm else {
            throw StateError(.validation, "The deployment id '\(id)' is not in a valid format; deployment ids of shift deploy look like 0b6c…-…, as list_deployments shows.",
                             awsErrorType: "InvalidDeploymentIdException")
        }
        do {
            return try await service.store.deployment(id: id)
        } catch let error as StateError where error.code == .resourceNotFound {
            throw StateError(.resourceNotFound, "The deployment \(id) could not be found; list_deployments shows the ids of this state directory's deployments.",
                             awsErrorType: "DeploymentDoesNotExistException")
        }
    }

    func getDeployment(_ body: [String: Any]) async throws -> InvokeAPIResponse {
        let record = try await deployment(body)
        return .codeDeployJSON(["deploymentInfo": Self.deploymentInfo(record)])
    }

    func listDeployments(_ body: [String: Any]) async throws -> InvokeAPIResponse {
        let application = body["applicationName"] as? String
        let group = body["deploymentGroupName"] as? String
        if group != nil, application == nil {
            throw StateError(.validation, "If deploymentGroupName is specified, applicationName must be specified too (\(Self.applicationName)).",
                             awsErrorType: "ApplicationNameRequiredException")
        }
        if application != nil, group == nil {
            throw StateError(.validation, "If applicationName is specified, deploymentGroupName must be specified too (<function>DeploymentGroup).",
                             awsErrorType: "DeploymentGroupNameRequiredException")
        }
        if let application, application != Self.applicationName {
            throw StateError(.resourceNotFound, "No application named \(application); locally the application is \(Self.applicationName).",
                             awsErrorType: "ApplicationDoesNotExistException")
        }
        var records = try await service.store.listDeployments(limit: 100_000)
        if let group {
            let functions = Set(records.map(\.functionName)).union(await service.functionNames)
            guard let function = functions.first(where: { Self.deploymentGroupName($0) == group }) else {
                let known = functions.sorted().map(Self.deploymentGroupName).joined(separator: ", ")
                throw StateError(.resourceNotFound, "No deployment group named \(group); groups here: \(known.isEmpty ? "none" : known).",
                                 awsErrorType: "DeploymentGroupDoesNotExistException")
            }
            records = records.filter { $0.functionName == function }
        }
        if let statuses = body["includeOnlyStatuses"] as? [String], !statuses.isEmpty {
            let known: Set<String> = ["Created", "Queued", "InProgress", "Baking", "Succeeded", "Failed", "Stopped", "Ready"]
            if let bad = statuses.first(where: { !known.contains($0) }) {
                throw StateError(.validation, "The deployment status \(bad) is not one of \(known.sorted().joined(separator: ", ")).",
                                 awsErrorType: "InvalidDeploymentStatusException")
            }
            records = records.filter { statuses.contains($0.status) }
        }
        // Newest first, as AWS lists; the token is the offset into that order.
        var start = 0
        if let token = body["nextToken"] as? String {
            guard let data = Data(base64Encoded: token), let offset = Int(String(decoding: data, as: UTF8.self)), offset >= 0 else {
                throw StateError(.validation, "The nextToken '\(token)' is not one this server gave; pass the previous answer's nextToken unchanged.",
                                 awsErrorType: "InvalidNextTokenException")
            }
            start = offset
        }
        let pageSize = 100
        let page = records.dropFirst(start).prefix(pageSize)
        var answer: [String: Any] = ["deployments": page.map(\.id)]
        if start + pageSize < records.count { answer["nextToken"] = Data(String(start + pageSize).utf8).base64EncodedString() }
        return .codeDeployJSON(answer)
    }

    /// Asks the `shift deploy` running the deployment to stop it; it rolls back and exits 3 naming this request.
    func stopDeployment(_ body: [String: Any], requestId: String) async throws -> InvokeAPIResponse {
        let record = try await deployment(body)
        try await service.store.requestStop(deploymentId: record.id, reason: "stopped by a StopDeployment call (request \(requestId))")
        return .codeDeployJSON(["status": "Pending", "statusMessage": "Stopping deployment \(record.id); shift deploy rolls \(record.functionName):\(record.aliasName) back to version \(record.currentVersion.map(String.init) ?? "none")."])
    }

    func putLifecycleEventHookExecutionStatus(_ body: [String: Any]) async throws -> InvokeAPIResponse {
        guard let deploymentId = body["deploymentId"] as? String, !deploymentId.isEmpty else {
            throw StateError(.validation, "deploymentId is required: the DeploymentId of the event the hook received", awsErrorType: "DeploymentIdRequiredException")
        }
        guard let executionId = body["lifecycleEventHookExecutionId"] as? String else {
            throw StateError(.validation, "lifecycleEventHookExecutionId is required: the LifecycleEventHookExecutionId of the event the hook received",
                             awsErrorType: "InvalidLifecycleEventHookExecutionIdException")
        }
        let status = body["status"] as? String ?? ""
        guard status == "Succeeded" || status == "Failed" else {
            throw StateError(.validation, "status must be Succeeded or Failed, not '\(status)'", awsErrorType: "InvalidLifecycleEventHookExecutionStatusException")
        }
        guard let hooks else {
            throw StateError(.resourceNotFound, "No deployment is running on this server, so there is no lifecycle hook to report to",
                             awsErrorType: "DeploymentDoesNotExistException")
        }
        let report = try await hooks.report(deploymentId: deploymentId, executionId: executionId, status: status)
        return .codeDeployJSON(["lifecycleEventHookExecutionId": report.executionId])
    }

    /// `DeploymentInfo` of a deployment: status, times (epoch seconds), overview of its one target, rollback and error.
    static func deploymentInfo(_ record: DeploymentRecord) -> [String: Any] {
        var info: [String: Any] = [
            "applicationName": applicationName,
            "deploymentGroupName": deploymentGroupName(record.functionName),
            "deploymentId": record.id,
            "status": record.status,
            "createTime": Double(record.startedAt) / 1000,
            "startTime": Double(record.startedAt) / 1000,
            "creator": "user",
            "computePlatform": "Lambda",
            "description": "\(record.functionName):\(record.aliasName) from version \(record.currentVersion.map(String.init) ?? "none") to \(record.targetVersion)",
            "deploymentStyle": ["deploymentType": "BLUE_GREEN", "deploymentOption": "WITH_TRAFFIC_CONTROL"],
            "deploymentOverview": overview(record.status),
        ]
        if let name = scheduleName(record.engineState) { info["deploymentConfigName"] = name }
        if let ended = record.endedAt { info["completeTime"] = Double(ended) / 1000 }
        if record.status == "Failed" || record.status == "Stopped" {
            let reason = record.reason ?? record.status
            info["rollbackInfo"] = ["rollbackMessage": "Traffic of \(record.functionName):\(record.aliasName) went back to version \(record.currentVersion.map(String.init) ?? "none"): \(reason)"]
            let lowered = reason.lowercased()
            let code = lowered.contains("stopdeployment") || lowered.contains("sig") ? "MANUAL_STOP"
                : lowered.contains("alarm") ? "ALARM_ACTIVE"
                : lowered.contains("hook") ? "HOOK_EXECUTION_FAILURE"
                : "INTERNAL_ERROR"
            info["errorInformation"] = ["code": code, "message": reason]
        }
        return info
    }

    private static func overview(_ status: String) -> [String: Int] {
        var counts = ["Pending": 0, "InProgress": 0, "Succeeded": 0, "Failed": 0, "Skipped": 0, "Ready": 0]
        switch status {
        case "Created", "Queued": counts["Pending"] = 1
        case "Succeeded": counts["Succeeded"] = 1
        case "Failed", "Stopped": counts["Failed"] = 1
        default: counts["InProgress"] = 1
        }
        return counts
    }

    /// The deployment configuration's name from the engine's journal (`rollout.configuration.schedule.name`), when it has one.
    private static func scheduleName(_ engineState: Data?) -> String? {
        guard let engineState, let journal = try? JSONSerialization.jsonObject(with: engineState) as? [String: Any],
              let rollout = journal["rollout"] as? [String: Any], let configuration = rollout["configuration"] as? [String: Any],
              let schedule = configuration["schedule"] as? [String: Any], let name = schedule["name"] as? String else { return nil }
        let predefined = name.hasPrefix("Canary10Percent") || name.hasPrefix("Linear10PercentEvery") || name == "AllAtOnce"
        return predefined ? "CodeDeployDefault.Lambda" + name : name
    }
}
