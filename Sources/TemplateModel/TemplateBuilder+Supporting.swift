import Foundation

/// The resources around functions: layers, alarms, custom deployment configs, and the cross-references between them.
extension TemplateBuilder {
    // MARK: Layers, alarms, deployment configs

    mutating func layer(_ id: String, _ resource: Resolver.Resource) -> Layer? {
        let props = resource.properties
        let serverless = resource.type == "AWS::Serverless::LayerVersion"
        var content: CodeSource?
        var contentUri: String?
        var contentLocation = resource.location
        if serverless {
            guard let uriNode = props?["ContentUri"], let value = resolver.resolve(uriNode), value != .null else {
                error("layer '\(id)' is missing required property 'ContentUri' (a local folder or s3://bucket/key)", at: resource.location)
                return nil
            }
            contentLocation = located(uriNode.location)
            if let text = value.stringValue {
                contentUri = text
                content = text.hasPrefix("s3://") ? .s3(text) : .directory(text)
            } else if let map = value.mapValue {
                contentUri = "s3://\(map["Bucket"]?.stringValue ?? "?")/\(map["Key"]?.stringValue ?? "?")"
                content = .s3(contentUri!)
            } else {
                error("ContentUri of layer '\(id)' must be a local folder or s3://bucket/key", at: uriNode.location)
            }
            if let retention = props?["RetentionPolicy"] {
                if let intrinsic = retention.intrinsic, intrinsic.name != "Ref" {
                    error("'RetentionPolicy' of layer '\(id)' does not accept intrinsic functions; use Retain or Delete", at: retention.location)
                } else if let text = resolver.resolve(retention)?.stringValue {
                    if !["retain", "delete"].contains(text.lowercased()) {
                        error("'RetentionPolicy' of layer '\(id)' is '\(text)'; it must be one of Retain, Delete", at: retention.location)
                    }
                } else {
                    error("'RetentionPolicy' of layer '\(id)' must be the string Retain or Delete", at: retention.location)
                }
            }
        } else if let contentNode = props?["Content"], let value = resolver.resolve(contentNode) {
            contentLocation = located(contentNode.location)
            if let map = value.mapValue {
                contentUri = "s3://\(map["S3Bucket"]?.stringValue ?? "?")/\(map["S3Key"]?.stringValue ?? "?")"
                content = .s3(contentUri!)
            } else if let text = value.stringValue {
                // SAM CLI's local convention: a folder that `sam package` uploads and rewrites to S3.
                contentUri = text
                content = text.hasPrefix("s3://") ? .s3(text) : .directory(text)
            } else {
                error("Content of layer '\(id)' must be {S3Bucket, S3Key} or a local folder", at: contentNode.location)
            }
        } else {
            error("layer '\(id)' needs Content: {S3Bucket, S3Key} or a local folder", at: resource.location)
        }
        if case .s3(let uri) = content {
            warning("the content of layer '\(id)' is in S3 (\(uri)), which cannot be fetched locally", at: resource.location)
        }
        if let license = props?["LicenseInfo"], let value = resolver.resolve(license), value.stringValue == nil {
            error("Property 'LicenseInfo' of layer '\(id)' should be a string", at: license.location)
        }
        let architectures = stringListProperty(props, "CompatibleArchitectures", of: id)
        if let architectures, architectures.contains(where: { !["x86_64", "arm64"].contains($0) }) {
            error("CompatibleArchitectures of layer '\(id)' needs to be a list of 'x86_64' or 'arm64'", at: props?["CompatibleArchitectures"].map { located($0.location) } ?? resource.location)
        }
        return Layer(logicalId: id, resourceType: resource.type, layerName: stringProperty(props, "LayerName", of: id) ?? id,
                     contentUri: contentUri, content: content, contentLocation: contentLocation,
                     compatibleRuntimes: lenientStringList(props, "CompatibleRuntimes", of: id),
                     compatibleArchitectures: architectures, location: resource.location)
    }

    static let comparisonOperators = ["GreaterThanOrEqualToThreshold", "GreaterThanThreshold", "LessThanThreshold", "LessThanOrEqualToThreshold",
                                      "LessThanLowerOrGreaterThanUpperThreshold", "LessThanLowerThreshold", "GreaterThanUpperThreshold"]
    static let statistics = ["SampleCount", "Average", "Sum", "Minimum", "Maximum"]
    static let missingDataTreatments = ["missing", "notBreaching", "breaching", "ignore"]

    mutating func alarm(_ id: String, _ resource: Resolver.Resource) -> Alarm? {
        let props = resource.properties
        func dimensions(_ value: TemplateValue?) -> [Alarm.Dimension] {
            (value?.listValue ?? []).compactMap { item in
                guard let name = item["Name"]?.stringValue, let value = item["Value"]?.stringValue else { return nil }
                return Alarm.Dimension(name: name, value: value)
            }
        }
        var properties: [String: TemplateValue] = [:]
        properties.reserveCapacity(props?.entries?.count ?? 0)
        for entry in props?.entries ?? [] {
            if let value = resolver.resolve(entry.value) { properties[entry.key] = value }
        }
        let comparison = stringProperty(props, "ComparisonOperator", of: id)
        if let comparison, !Self.comparisonOperators.contains(comparison) {
            error("ComparisonOperator '\(comparison)' of alarm '\(id)' is not one of \(Self.comparisonOperators.prefix(4).joined(separator: ", "))", at: props?["ComparisonOperator"].map { located($0.location) } ?? resource.location)
        }
        let statistic = stringProperty(props, "Statistic", of: id)
        if let statistic, !Self.statistics.contains(statistic) {
            error("Statistic '\(statistic)' of alarm '\(id)' is not one of \(Self.statistics.joined(separator: ", ")); use ExtendedStatistic for percentiles such as p99", at: props?["Statistic"].map { located($0.location) } ?? resource.location)
        }
        let treat = stringProperty(props, "TreatMissingData", of: id)
        if let treat, !Self.missingDataTreatments.contains(treat) {
            error("TreatMissingData '\(treat)' of alarm '\(id)' is not one of \(Self.missingDataTreatments.joined(separator: ", "))", at: props?["TreatMissingData"].map { located($0.location) } ?? resource.location)
        }
        let evaluationPeriods = intProperty(props, "EvaluationPeriods", of: id, range: 1...100_000)
        let datapoints = intProperty(props, "DatapointsToAlarm", of: id, range: 1...100_000)
        if let evaluationPeriods, let datapoints, datapoints > evaluationPeriods {
            error("DatapointsToAlarm (\(datapoints)) of alarm '\(id)' cannot exceed EvaluationPeriods (\(evaluationPeriods))", at: props?["DatapointsToAlarm"].map { located($0.location) } ?? resource.location)
        }
        var metrics: [Alarm.MetricDataQuery] = []
        for item in properties["Metrics"]?.listValue ?? [] {
            let stat = item["MetricStat"]
            metrics.append(Alarm.MetricDataQuery(
                id: item["Id"]?.stringValue ?? "", expression: item["Expression"]?.stringValue,
                metricName: stat?["Metric"]?["MetricName"]?.stringValue, namespace: stat?["Metric"]?["Namespace"]?.stringValue,
                dimensions: dimensions(stat?["Metric"]?["Dimensions"]), period: stat?["Period"]?.intValue,
                stat: stat?["Stat"]?.stringValue, returnData: item["ReturnData"]?.boolValue ?? true, label: item["Label"]?.stringValue))
        }
        let metricName = stringProperty(props, "MetricName", of: id)
        if metricName == nil && metrics.isEmpty {
            error("alarm '\(id)' has neither MetricName nor Metrics; give the metric it watches", at: resource.location)
        }
        if evaluationPeriods == nil {
            error("alarm '\(id)' has no EvaluationPeriods; add e.g. EvaluationPeriods: 1", at: resource.location)
        }
        return Alarm(
            logicalId: id, alarmName: stringProperty(props, "AlarmName", of: id) ?? id, metricName: metricName,
            namespace: stringProperty(props, "Namespace", of: id), statistic: statistic,
            extendedStatistic: stringProperty(props, "ExtendedStatistic", of: id),
            period: intProperty(props, "Period", of: id, range: 1...86_400 * 7, unit: " s"), evaluationPeriods: evaluationPeriods,
            datapointsToAlarm: datapoints, threshold: properties["Threshold"]?.doubleValue, comparisonOperator: comparison,
            treatMissingData: treat, dimensions: dimensions(properties["Dimensions"]), metrics: metrics,
            properties: properties, location: resource.location)
    }

    mutating func deploymentConfig(_ id: String, _ resource: Resolver.Resource) -> DeploymentConfig? {
        let props = resource.properties
        let name = stringProperty(props, "DeploymentConfigName", of: id) ?? id
        let platform = stringProperty(props, "ComputePlatform", of: id) ?? "Server"
        guard platform == "Lambda" else {
            warning("deployment config '\(id)' is for ComputePlatform \(platform); only Lambda configs are used locally", at: resource.location)
            return nil
        }
        guard let routingNode = props?["TrafficRoutingConfig"], let routing = resolver.resolve(routingNode) else {
            error("deployment config '\(id)' needs a TrafficRoutingConfig (TimeBasedCanary, TimeBasedLinear or AllAtOnce)", at: resource.location)
            return nil
        }
        let type = routing["Type"]?.stringValue
        func parameters(_ key: String, _ percentKey: String, _ intervalKey: String) -> (Double, Int)? {
            guard let body = routing[key], let percent = body[percentKey]?.doubleValue, let interval = body[intervalKey]?.intValue else {
                return nil
            }
            return (percent, interval)
        }
        let result: DeploymentConfig.Routing
        switch type {
        case "TimeBasedCanary":
            guard let (percent, interval) = parameters("TimeBasedCanary", "CanaryPercentage", "CanaryInterval") else {
                error("TimeBasedCanary of '\(id)' needs CanaryPercentage and CanaryInterval (minutes)", at: routingNode.location)
                return nil
            }
            result = .timeBasedCanary(percentage: percent, intervalMinutes: interval)
        case "TimeBasedLinear":
            guard let (percent, interval) = parameters("TimeBasedLinear", "LinearPercentage", "LinearInterval") else {
                error("TimeBasedLinear of '\(id)' needs LinearPercentage and LinearInterval (minutes)", at: routingNode.location)
                return nil
            }
            result = .timeBasedLinear(percentage: percent, intervalMinutes: interval)
        case "AllAtOnce":
            result = .allAtOnce
        default:
            error("TrafficRoutingConfig.Type of '\(id)' must be TimeBasedCanary, TimeBasedLinear or AllAtOnce", at: routingNode.location)
            return nil
        }
        switch result {
        case .timeBasedCanary(let percent, let interval), .timeBasedLinear(let percent, let interval):
            if !(percent > 0 && percent <= 100) || interval < 1 {
                error("deployment config '\(id)' shifts \(TemplateValue.format(percent)) % every \(interval) min; the percentage must be in (0, 100] and the interval at least 1 minute", at: routingNode.location)
            }
        case .allAtOnce: break
        }
        return DeploymentConfig(logicalId: id, name: name, routing: result, location: resource.location)
    }

    // MARK: Cross-references

    /// Hooks, alarms and destinations must name things that exist.
    mutating func checkReferences(_ template: inout Template) {
        // `Template.alarm(named:)` by dictionary: the first alarm with that logical id, else the first with that name.
        var alarmsById: [String: String] = [:]
        var alarmsByName: [String: String] = [:]
        if template.functions.contains(where: { !($0.deploymentPreference?.alarms.isEmpty ?? true) }) {
            for alarm in template.alarms {
                if alarmsById[alarm.logicalId] == nil { alarmsById[alarm.logicalId] = alarm.logicalId }
                if alarmsByName[alarm.alarmName] == nil { alarmsByName[alarm.alarmName] = alarm.logicalId }
            }
        }
        for index in template.functions.indices {
            let function = template.functions[index]
            guard var preference = function.deploymentPreference else { continue }
            for (keyPath, label) in [(\DeploymentPreference.preTrafficHook, "PreTraffic"), (\DeploymentPreference.postTrafficHook, "PostTraffic")] {
                guard let hook = preference[keyPath: keyPath] else { continue }
                if let target = template.function(named: hook) ?? template.functions.first(where: { hook.hasSuffix(":function:" + $0.functionName) }) {
                    preference[keyPath: keyPath] = target.logicalId
                } else {
                    error("the \(label) hook '\(hook)' of '\(function.logicalId)' is not a function of this template\(suggestion(for: hook, among: template.functions.map(\.logicalId)))", at: preference.location)
                }
            }
            preference.alarms = preference.alarms.map { alarmsById[$0] ?? alarmsByName[$0] ?? $0 }
            template.functions[index].deploymentPreference = preference
        }
    }
}
