import Foundation
import Runtime

extension LocalTarget {
    /// Waits until CodeDeploy's StopDeployment asks to stop a deployment this process runs (through any `shift serve`
    /// on the same state directory, or this process's own endpoint) and returns who asked; nil once cancelled.
    ///
    /// The request is a row in the state database, written by whichever process answered the call, so this looks
    /// every `interval`: the other process has no channel to this one but the directory.
    public func nextStopRequest(every interval: Duration = .milliseconds(250)) async -> String? {
        while !Task.isCancelled {
            let mine = createdDeployments.withLock { $0 }
            if !mine.isEmpty, let requests = try? await stack.store.pendingStopRequests(),
               let (id, reason) = requests.first(where: { mine.contains($0.key) }) {
                return "\(reason) for deployment \(id)"
            }
            do { try await Task.sleep(for: interval) } catch { return nil }
        }
        return nil
    }
}
