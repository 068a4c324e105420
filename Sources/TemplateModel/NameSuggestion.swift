/// "Did you mean": the known name closest to one written, for every message that names a mistyped thing.
public enum NameSuggestion {
    /// The candidate nearest to `name` (case-insensitively) within a few edits, or nil when none is close.
    public static func closest(to name: String, in candidates: some Sequence<String>) -> String? {
        let lowered = name.lowercased()
        var best: (name: String, distance: Int)?
        for candidate in candidates {
            let distance = editDistance(lowered, candidate.lowercased())
            if distance <= max(2, name.count / 3), distance < (best?.distance ?? .max) { best = (candidate, distance) }
        }
        return best?.name
    }

    static func editDistance(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var previous = Array(0...b.count)
        var current = [Int](repeating: 0, count: b.count + 1)
        for i in 1...a.count {
            current[0] = i
            for j in 1...b.count {
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            swap(&previous, &current)
        }
        return previous[b.count]
    }
}

/// `; did you mean 'X'?` when a known name is close to the one written.
func suggestion(for name: String, among candidates: [String]) -> String {
    NameSuggestion.closest(to: name, in: candidates).map { "; did you mean '\($0)'?" } ?? ""
}
