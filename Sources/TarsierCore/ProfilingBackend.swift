#if canImport(Glibc)
import Glibc
#endif

/// Wraps a backend and accumulates the time and call count of each kernel, for finding where a
/// training step spends its time (`tarsier train --profile`).
public final class ProfilingBackend: ObservingBackend {
    private var totals: [String: (seconds: Double, calls: Int)] = [:]
    private let lock = SpinLock()

    public override var name: String { "profiling(\(inner.name))" }

    public override func observe<R>(_ call: KernelCall, _ body: () -> R) -> R {
        var start = timespec(), end = timespec()
        clock_gettime(CLOCK_MONOTONIC, &start)
        let r = body()
        clock_gettime(CLOCK_MONOTONIC, &end)
        let dt = Double(end.tv_sec - start.tv_sec) + Double(end.tv_nsec - start.tv_nsec) * 1e-9
        lock.withLock {
            let old = totals[call.name] ?? (0, 0)
            totals[call.name] = (old.seconds + dt, old.calls + 1)
        }
        return r
    }

    /// Kernel names with total seconds and calls, slowest first.
    public func report() -> [(name: String, seconds: Double, calls: Int)] {
        lock.withLock { totals.map { ($0.key, $0.value.seconds, $0.value.calls) } }.sorted { $0.seconds > $1.seconds }
    }

    /// Forgets the accumulated times.
    public func reset() { lock.withLock { totals = [:] } }
}
