import Foundation

/// Merges a function's layers, in order, into one folder: what the function sees as `/opt`.
enum LayerMerger {
    /// Copies each layer's tree into `destination`; a later layer's file replaces an earlier one's.
    static func merge(_ layers: [String], into destination: String) throws {
        let fm = FileManager.default
        try? fm.removeItem(atPath: destination)
        try fm.createDirectory(atPath: destination, withIntermediateDirectories: true)
        for layer in layers {
            var isDirectory: ObjCBool = false
            guard fm.fileExists(atPath: layer, isDirectory: &isDirectory), isDirectory.boolValue else {
                throw RuntimeError(.invalidConfiguration, "The layer folder \(layer) does not exist. Check the layer's ContentUri.")
            }
            try copyTree(from: layer, to: destination, fm: fm)
        }
    }

    private static func copyTree(from source: String, to destination: String, fm: FileManager) throws {
        for name in try fm.contentsOfDirectory(atPath: source) {
            let src = "\(source)/\(name)"
            let dst = "\(destination)/\(name)"
            let attributes = try fm.attributesOfItem(atPath: src)
            if attributes[.type] as? FileAttributeType == .typeDirectory {
                var isDirectory: ObjCBool = false
                if fm.fileExists(atPath: dst, isDirectory: &isDirectory), !isDirectory.boolValue { try fm.removeItem(atPath: dst) }
                try fm.createDirectory(atPath: dst, withIntermediateDirectories: true)
                try copyTree(from: src, to: dst, fm: fm)
            } else {
                if fm.fileExists(atPath: dst) { try fm.removeItem(atPath: dst) }
                try fm.copyItem(atPath: src, toPath: dst)
            }
        }
    }
}
