import TemplateModel

/// One point of a traffic schedule as `validate` prints it.
struct ScheduleStep: Sendable, Hashable {
    var minute: Int
    var percent: Double
}

/// Turns each function's DeploymentPreference Type into a traffic schedule, reporting names that are not schedules.
enum ScheduleCheck {
    static func schedules(for template: Template) -> (schedules: [String: [ScheduleStep]], diagnostics: [Diagnostic]) {
        ([:], [])
    }
}
