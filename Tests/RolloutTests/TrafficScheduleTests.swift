import Testing
@testable import Rollout

struct TrafficScheduleTests {
    static let predefined: [(String, [TrafficPoint])] = [
        ("Canary10Percent5Minutes", [.init(minute: 0, percent: 10), .init(minute: 5, percent: 100)]),
        ("Canary10Percent10Minutes", [.init(minute: 0, percent: 10), .init(minute: 10, percent: 100)]),
        ("Canary10Percent15Minutes", [.init(minute: 0, percent: 10), .init(minute: 15, percent: 100)]),
        ("Canary10Percent30Minutes", [.init(minute: 0, percent: 10), .init(minute: 30, percent: 100)]),
        ("Linear10PercentEvery1Minute", (0..<10).map { .init(minute: $0, percent: Double($0 + 1) * 10) }),
        ("Linear10PercentEvery2Minutes", (0..<10).map { .init(minute: $0 * 2, percent: Double($0 + 1) * 10) }),
        ("Linear10PercentEvery3Minutes", (0..<10).map { .init(minute: $0 * 3, percent: Double($0 + 1) * 10) }),
        ("Linear10PercentEvery10Minutes", (0..<10).map { .init(minute: $0 * 10, percent: Double($0 + 1) * 10) }),
        ("AllAtOnce", [.init(minute: 0, percent: 100)]),
    ]

    @Test(arguments: predefined.map(\.0))
    func predefinedNamesWithAndWithoutPrefix(name: String) throws {
        let expected = Self.predefined.first { $0.0 == name }!.1
        #expect(try TrafficSchedule(named: name).points == expected)
        #expect(try TrafficSchedule(named: "CodeDeployDefault.Lambda" + name).points == expected)
    }

    @Test func linear10Every10MinutesTakes90MinutesToReach100() throws {
        let s = try TrafficSchedule(named: "Linear10PercentEvery10Minutes")
        #expect(s.totalMinutes == 90)
        #expect(s.flat.last! == (90, 100))
    }

    @Test func stepsAreShiftsSeparatedByWaits() throws {
        #expect(try TrafficSchedule(named: "Canary10Percent5Minutes").steps == [
            .shift(toPercent: 10), .wait(minutes: 5), .shift(toPercent: 100),
        ])
        #expect(try TrafficSchedule(named: "AllAtOnce").steps == [.shift(toPercent: 100)])
    }

    @Test func patternNamesForAnyPercentAndInterval() throws {
        #expect(try TrafficSchedule(named: "Canary25Percent7Minutes").kind == .canary(percent: 25, intervalMinutes: 7))
        #expect(try TrafficSchedule(named: "Canary1Percent1Minute").kind == .canary(percent: 1, intervalMinutes: 1))
        #expect(try TrafficSchedule(named: "Linear99PercentEvery1Minute").flat.map(\.percent) == [99, 100])
        #expect(try TrafficSchedule(named: "CodeDeployDefault.LambdaLinear5PercentEvery4Minutes").points.count == 20)
    }

    @Test func linearWhere100IsNotAMultipleEndsAt100() throws {
        let s = try TrafficSchedule(named: "Linear30PercentEvery2Minutes")
        #expect(s.points == [
            .init(minute: 0, percent: 30), .init(minute: 2, percent: 60),
            .init(minute: 4, percent: 90), .init(minute: 6, percent: 100),
        ])
    }

    @Test func customConfigsByName() throws {
        let custom: [String: CustomDeploymentConfig] = [
            "MyCanary": .timeBasedCanary(canaryPercentage: 20, canaryInterval: 3),
            "MyLinear": .timeBasedLinear(linearPercentage: 40, linearInterval: 1),
            "Now": .allAtOnce,
        ]
        #expect(try TrafficSchedule(named: "MyCanary", customConfigs: custom).flat.map(\.minute) == [0, 3])
        #expect(try TrafficSchedule(named: "MyLinear", customConfigs: custom).flat.map(\.percent) == [40, 80, 100])
        #expect(try TrafficSchedule(named: "Now", customConfigs: custom).kind == .allAtOnce)
        // Predefined names win over a custom config of the same name, as SAM prefixes them.
        let shadow: [String: CustomDeploymentConfig] = ["AllAtOnce": .timeBasedCanary(canaryPercentage: 5, canaryInterval: 1)]
        #expect(try TrafficSchedule(named: "AllAtOnce", customConfigs: shadow).kind == .allAtOnce)
    }

    @Test(arguments: ["Canary0Percent5Minutes", "Canary100Percent5Minutes", "Canary150Percent5Minutes",
                      "Linear10PercentEvery0Minutes", "Canary10Percent0Minutes", "Canary2.5Percent5Minutes"])
    func impossibleNamesThrowNamingThem(name: String) {
        #expect {
            try TrafficSchedule(named: name)
        } throws: { error in
            let e = error as! RolloutError
            return e.code == .impossibleStrategy && e.message.contains(name)
                && (e.message.contains("1...99") || e.message.contains("at least 1 minute"))
        }
    }

    @Test func impossibleCustomConfigThrows() {
        #expect(throws: RolloutError.self) {
            try TrafficSchedule(named: "X", customConfigs: ["X": .timeBasedLinear(linearPercentage: 0, linearInterval: 1)])
        }
    }

    @Test(arguments: ["Blue", "Canary", "Linear10Percent5Minutes", "CanaryTenPercent5Minutes", ""])
    func unknownNamesSayWhatIsAccepted(name: String) {
        #expect {
            try TrafficSchedule(named: name)
        } throws: { error in
            let e = error as! RolloutError
            return e.code == .unknownStrategy && e.message.contains("'\(name)'") && e.message.contains("Canary10Percent5Minutes")
        }
    }

    @Test(arguments: [("Canary10Percent5Minute", "Canary10Percent5Minutes"), ("Linear10PercentEvery2Minute", "Linear10PercentEvery2Minutes"),
                      ("Canary010Percent5Minutes", "Canary10Percent5Minutes"), ("Canary20Percent07Minutes", "Canary20Percent7Minutes"),
                      ("CodeDeployDefault.LambdaCanary20Percent7Minute", "CodeDeployDefault.LambdaCanary20Percent7Minutes")])
    func inexactPatternNamesAreUnknownAndTheExactOneIsNear(name: String, exact: String) throws {
        #expect(throws: RolloutError.self) { try TrafficSchedule(named: name) }
        #expect(TrafficSchedule.nearNames(for: name, customConfigs: []).contains(exact))
        #expect(try TrafficSchedule(named: exact).name == exact)
    }

    @Test func oneMinuteMayBeWrittenEitherWay() throws {
        #expect(try TrafficSchedule(named: "Linear10PercentEvery1Minute").kind == .linear(percent: 10, intervalMinutes: 1))
        #expect(try TrafficSchedule(named: "Linear10PercentEvery1Minutes").kind == .linear(percent: 10, intervalMinutes: 1))
    }

    @Test func nearNamesIncludeCustomConfigs() {
        #expect(TrafficSchedule.nearNames(for: "MyCanry", customConfigs: ["MyCanary"]).contains("MyCanary"))
    }

    @Test func encodesAsMinutePercentObjects() throws {
        let s = try TrafficSchedule(named: "Canary10Percent5Minutes")
        #expect(s.points.map { "{\"minute\":\($0.minute),\"percent\":\(Int($0.percent))}" }.joined(separator: ",")
            == "{\"minute\":0,\"percent\":10},{\"minute\":5,\"percent\":100}")
    }
}
