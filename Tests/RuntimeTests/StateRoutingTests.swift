import Testing
@testable import Runtime

@Suite struct StateRoutingTests {
    private func alias(primary: String = "1", extra: [String: Double]) -> AliasConfiguration {
        AliasConfiguration(aliasArn: "arn", name: "live", functionVersion: primary, description: "",
                           routingConfig: extra.isEmpty ? nil : RoutingConfig(additionalVersionWeights: extra), revisionId: "r")
    }

    @Test func chooseIsAPureFunctionOfTheDraw() {
        let weighted = alias(extra: ["2": 0.1])
        #expect(AliasRouter.choose(weighted, draw: 0.0) == "2")
        #expect(AliasRouter.choose(weighted, draw: 0.0999) == "2")
        #expect(AliasRouter.choose(weighted, draw: 0.1) == "1")
        #expect(AliasRouter.choose(weighted, draw: 0.9999) == "1")
        #expect(AliasRouter.choose(alias(extra: [:]), draw: 0) == "1")
        #expect(AliasRouter.choose(alias(extra: ["2": 0]), draw: 0) == "1")
    }

    @Test(arguments: [0.05, 0.1, 0.3, 0.5, 0.9])
    func observedSplitMatchesWeights(weight: Double) {
        let router = AliasRouter(seed: 42)
        let config = alias(extra: ["2": weight])
        let draws = 100_000
        var extra = 0
        for _ in 0..<draws where router.route(config) == "2" { extra += 1 }
        // Chi-square with one degree of freedom; 10.83 is the 0.1 % critical value.
        let expectedExtra = Double(draws) * weight, expectedPrimary = Double(draws) * (1 - weight)
        let chiSquare = pow2(Double(extra) - expectedExtra) / expectedExtra + pow2(Double(draws - extra) - expectedPrimary) / expectedPrimary
        #expect(chiSquare < 10.83, "extra \(extra) of \(draws) for weight \(weight)")
        #expect(abs(Double(extra) / Double(draws) - weight) < 0.02)
    }

    @Test func sameSeedSameSequence() {
        let config = alias(extra: ["2": 0.5])
        let a = AliasRouter(seed: 7), b = AliasRouter(seed: 7)
        #expect((0..<1000).map { _ in a.route(config) } == (0..<1000).map { _ in b.route(config) })
    }

    @Test func unitDrawsAreInRange() {
        var generator = SplitMix64(seed: 1)
        for _ in 0..<10_000 {
            let draw = generator.nextUnit()
            #expect(draw >= 0 && draw < 1)
        }
    }

    private func pow2(_ x: Double) -> Double { x * x }
}
