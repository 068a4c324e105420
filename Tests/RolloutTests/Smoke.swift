import Testing
@testable import Rollout

@Test func moduleLoads() { #expect(true) }
