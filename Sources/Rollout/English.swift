/// Counts in messages: "1 error", "4 errors", never "1 errors" or "error(s)".
public enum English {
    /// `count` followed by `noun` in the right number (`plural` for irregular nouns, else `noun` + "s").
    public static func count(_ count: Int, _ noun: String, plural: String? = nil) -> String {
        "\(count) \(count == 1 ? noun : plural ?? noun + "s")"
    }
}
