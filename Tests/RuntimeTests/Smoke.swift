import Testing
@testable import Runtime

@Test func moduleLoads() { #expect(true) }
