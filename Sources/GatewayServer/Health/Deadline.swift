import NIOConcurrencyHelpers

struct DeadlineExceeded: Error, CustomStringConvertible {
    let limit: Duration
    var description: String { "no answer within \(Int(limit.milliseconds)) ms" }
}

/// Runs `operation` but returns (throwing `DeadlineExceeded`) once `limit` passes, even if the
/// operation ignores cancellation: a dependency that hangs must not make a probe hang too.
func withDeadline<T: Sendable>(_ limit: Duration, _ operation: @escaping @Sendable () async throws -> T) async throws -> T {
    let outcome = NIOLockedValueBox<CheckedContinuation<T, any Error>?>(nil)
    var tasks: [Task<Void, Never>] = []
    defer { tasks.forEach { $0.cancel() } }
    return try await withCheckedThrowingContinuation { continuation in
        outcome.withLockedValue { $0 = continuation }
        @Sendable func settle(_ result: Result<T, any Error>) {
            outcome.withLockedValue { pending in
                pending?.resume(with: result)
                pending = nil
            }
        }
        tasks.append(Task { settle(await Result(catching: operation)) })
        tasks.append(
            Task {
                try? await Task.sleep(for: limit)
                settle(.failure(DeadlineExceeded(limit: limit)))
            })
    }
}

extension Result where Failure == any Error {
    init(catching body: () async throws -> Success) async {
        do { self = .success(try await body()) } catch { self = .failure(error) }
    }
}
