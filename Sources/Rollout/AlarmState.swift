/// A CloudWatch alarm state.
public enum AlarmState: String, Sendable, Hashable, Codable, CaseIterable {
    case ok = "OK"
    case alarm = "ALARM"
    case insufficientData = "INSUFFICIENT_DATA"
}
