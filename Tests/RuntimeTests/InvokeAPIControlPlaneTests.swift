import Foundation
import Testing
@testable import Runtime

@Suite("Invoke API control plane and CodeDeploy hooks")
struct InvokeAPIControlPlaneTests {
    @Test func publishVersionsAndAliasesThroughHTTP() async throws {
        try await withInvokeAPI { api in
            let publish = try await api.http("POST", "/2015-03-31/functions/echo/versions", json: #"{"Description":"first"}"#)
            #expect(publish.status == 201)
            #expect(publish.json["Version"] as? String == "1")
            #expect(publish.json["FunctionArn"] as? String == "arn:aws:lambda:us-east-1:123456789012:function:echo:1")
            #expect((publish.json["CodeSha256"] as? String)?.isEmpty == false)
            #expect(publish.json["Runtime"] as? String == "python3.12")
            // Nothing changed: the same version again.
            let again = try await api.http("POST", "/2015-03-31/functions/echo/versions", json: "{}")
            #expect(again.json["Version"] as? String == "1")

            let stale = try await api.http("POST", "/2015-03-31/functions/echo/versions", json: #"{"CodeSha256":"bm90IGl0"}"#)
            #expect(stale.status == 412)

            let versions = try await api.http("GET", "/2015-03-31/functions/echo/versions")
            #expect((versions.json["Versions"] as? [[String: Any]])?.compactMap { $0["Version"] as? String } == ["$LATEST", "1"])

            let create = try await api.http("POST", "/2015-03-31/functions/echo/aliases", json: #"{"Name":"live","FunctionVersion":"1","Description":"d"}"#)
            #expect(create.status == 201)
            #expect(create.json["AliasArn"] as? String == "arn:aws:lambda:us-east-1:123456789012:function:echo:live")
            let revision = try #require(create.json["RevisionId"] as? String)

            let duplicate = try await api.http("POST", "/2015-03-31/functions/echo/aliases", json: #"{"Name":"live","FunctionVersion":"1"}"#)
            #expect(duplicate.status == 409)
            #expect(duplicate.headers["x-amzn-errortype"] == "ResourceConflictException")

            let missingVersion = try await api.http("POST", "/2015-03-31/functions/echo/aliases", json: #"{"Name":"x","FunctionVersion":"9"}"#)
            #expect(missingVersion.status == 404)

            let get = try await api.http("GET", "/2015-03-31/functions/echo/aliases/live")
            #expect(get.status == 200)
            #expect(get.json["FunctionVersion"] as? String == "1")

            let update = try await api.http("PUT", "/2015-03-31/functions/echo/aliases/live", json: #"{"Description":"new","RevisionId":"\#(revision)"}"#)
            #expect(update.status == 200)
            #expect(update.json["Description"] as? String == "new")
            #expect(update.json["RevisionId"] as? String != revision)

            let conflict = try await api.http("PUT", "/2015-03-31/functions/echo/aliases/live", json: #"{"Description":"again","RevisionId":"\#(revision)"}"#)
            #expect(conflict.status == 412)
            #expect(conflict.headers["x-amzn-errortype"] == "PreconditionFailedException")

            let weighted = try await api.http("PUT", "/2015-03-31/functions/echo/aliases/live", json: #"{"RoutingConfig":{"AdditionalVersionWeights":{"1":0.5}}}"#)
            #expect(weighted.status == 400)  // the extra version must differ from the primary

            let list = try await api.http("GET", "/2015-03-31/functions/echo/aliases")
            #expect((list.json["Aliases"] as? [[String: Any]])?.count == 1)

            let function = try await api.http("GET", "/2015-03-31/functions/echo?Qualifier=live")
            #expect((function.json["Configuration"] as? [String: Any])?["Version"] as? String == "1")
            let latest = try await api.http("GET", "/2015-03-31/functions/echo")
            let configuration = try #require(latest.json["Configuration"] as? [String: Any])
            #expect(configuration["Version"] as? String == "$LATEST")
            #expect(configuration["Handler"] as? String == "app.echo")
            #expect(configuration["MemorySize"] as? Int == 128)
            #expect((configuration["Environment"] as? [String: Any])?["Variables"] is [String: String])

            let functions = try await api.http("GET", "/2015-03-31/functions/")
            #expect(Set((functions.json["Functions"] as? [[String: Any]])?.compactMap { $0["FunctionName"] as? String } ?? [])
                    == ["echo", "fail", "record", "throttled"])

            #expect(try await api.http("DELETE", "/2015-03-31/functions/echo/aliases/live").status == 204)
            let gone = try await api.http("GET", "/2015-03-31/functions/echo/aliases/live")
            #expect(gone.status == 404)
            #expect(gone.headers["x-amzn-errortype"] == "ResourceNotFoundException")
        }
    }

    @Test func weightedAliasSplitsAndMetricsAddUp() async throws {
        try await withInvokeAPI { api in
            _ = try await api.http("POST", "/2015-03-31/functions/echo/versions", json: "{}")
            _ = try await api.service.store.publishVersion(
                function: "echo", configuration: VersionConfiguration(runtime: "python3.12", handler: "app.echo", environment: ["V": "2"]),
                code: .directory(URL(fileURLWithPath: api.fixtures.path + "/fn")))
            _ = try await api.http("POST", "/2015-03-31/functions/echo/aliases",
                                   json: #"{"Name":"live","FunctionVersion":"1","RoutingConfig":{"AdditionalVersionWeights":{"2":0.5}}}"#)
            var executed: [String: Int] = [:]
            for _ in 0..<40 {
                let response = try await api.invoke("echo:live")
                executed[response.headers["x-amz-executed-version"] ?? "?", default: 0] += 1
            }
            #expect(executed.keys.sorted() == ["1", "2"])
            let totals = api.metrics.totals(metric: .invocations).filter { $0.key.resource == "echo:live" }
            #expect(totals.values.reduce(0, +) == 40)
            for (version, count) in executed {
                #expect(totals.first { $0.key.executedVersion == version }?.value == Double(count))
            }
            let now = Int64(Date().timeIntervalSince1970 * 1000)
            let aliasTotal = try api.metrics.datapoints(metric: .invocations, dimensions: ["FunctionName": "echo", "Resource": "echo:live"],
                                                        from: now - 3_600_000, to: now + 3_600_000).reduce(0) { $0 + $1.sum }
            #expect(aliasTotal == 40)
        }
    }

    @Test func lifecycleHookStatusThroughCodeDeployAPI() async throws {
        try await withInvokeAPI { api in
            let execution = await api.hooks.expect(deploymentId: "d-1")
            let target = ("X-Amz-Target", "CodeDeploy_20141006.PutLifecycleEventHookExecutionStatus")
            let body = #"{"deploymentId":"d-1","lifecycleEventHookExecutionId":"\#(execution)","status":"Succeeded"}"#
            let ok = try await api.http("POST", "/", headers: [target, ("Content-Type", "application/x-amz-json-1.1")], json: body)
            #expect(ok.status == 200)
            #expect(ok.json["lifecycleEventHookExecutionId"] as? String == execution)
            var reports = api.hooks.reports.makeAsyncIterator()
            #expect(await reports.next() == HookReport(deploymentId: "d-1", executionId: execution, succeeded: true))

            let twice = try await api.http("POST", "/", headers: [target], json: body)
            #expect(twice.status == 400)
            #expect(twice.json["__type"] as? String == "LifecycleEventAlreadyCompletedException")

            let unknown = try await api.http("POST", "/", headers: [target], json: #"{"deploymentId":"d-1","lifecycleEventHookExecutionId":"nope","status":"Failed"}"#)
            // botocore's CodeDeploy model has no "…DoesNotExist" code for an execution id: AWS answers this one.
            #expect(unknown.json["__type"] as? String == "InvalidLifecycleEventHookExecutionIdException")

            let wrong = try await api.http("POST", "/", headers: [("X-Amz-Target", "CodeDeploy_20141006.ListApplications")], json: "{}")
            #expect(wrong.status == 400)
            #expect(wrong.json["__type"] as? String == "UnknownOperationException")
        }
    }
}
