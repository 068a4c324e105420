import Testing
@testable import TemplateModel

@Test func moduleLoads() { #expect(true) }
