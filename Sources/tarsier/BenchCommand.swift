import ArgumentParser
import Tarsier
import Foundation

struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure training and inference images/s on the workloads of shared/anchors/torch_baseline.py.",
        discussion: "Each workload runs in its own process so that its peak resident memory is its own.")

    @Flag(help: "Print one JSON object instead of a table.") var json = false
    @Option(help: "Run only these workloads (comma-separated keys).") var only: String?
    @Option(help: "CPU threads.") var threads = 2
    @Option(help: "bf16 convolution passes: off (default, as PyTorch's Float32 eager), auto, all, or a list.") var bf16 = "off"
    @Flag(help: .hidden) var child = false
    @Flag(help: "Run the workloads in this process and print the time per kernel (no memory figures).") var profile = false

    func run() throws {
        runReportingErrors {
            let keys = only.map { $0.split(separator: ",").map(String.init) } ?? Benchmark.workloads.map(\.key)
            let unknown = keys.filter { k in !Benchmark.workloads.contains { $0.key == k } }
            guard unknown.isEmpty else {
                throw ValidationError("unknown workload \(unknown.joined(separator: ", ")); valid: "
                                      + Benchmark.workloads.map(\.key).joined(separator: ", "))
            }
            if profile {
                configureThreads(threads)
                CPUBackend.bfloat16Convolutions = try Trainer.convolutionPasses(bf16)
                for key in keys {
                    guard let workload = Benchmark.workloads.first(where: { $0.key == key }) else { continue }
                    let profiler = ProfilingBackend(wrapping: Device.cpu.backend)
                    Device.default = Device(backend: profiler)
                    let ips = try Benchmark.run(workload)
                    print(String(format: "%@: %.1f img/s (profiled)", key as NSString, ips))
                    for row in profiler.report().prefix(14) {
                        print(String(format: "  %-34@ %8.3f s %6d calls", row.name as NSString, row.seconds, row.calls))
                    }
                }
                return
            }
            if child {
                configureThreads(threads)
                CPUBackend.bfloat16Convolutions = try Trainer.convolutionPasses(bf16)
                guard let workload = Benchmark.workloads.first(where: { $0.key == keys.first }) else { return }
                let ips = try Benchmark.run(workload)
                print("\(ips) \(Benchmark.peakResidentMiB())")
                return
            }
            var results: [(String, Double, Double)] = []
            for key in keys {
                let process = Process()
                process.executableURL = URL(fileURLWithPath: "/proc/self/exe")
                process.arguments = ["bench", "--child", "--only", key, "--threads", String(threads), "--bf16", bf16]
                let pipe = Pipe()
                process.standardOutput = pipe
                try process.run()
                let data = pipe.fileHandleForReading.readDataToEndOfFile()
                process.waitUntilExit()
                let fields = String(decoding: data, as: UTF8.self).split(separator: " ").compactMap {
                    Double($0.trimmingCharacters(in: .whitespacesAndNewlines))
                }
                guard process.terminationStatus == 0, fields.count == 2 else {
                    throw ValidationError("workload \(key) failed (exit \(process.terminationStatus))")
                }
                results.append((key, fields[0], fields[1]))
                if !json { print(String(format: "%-28@ %10.1f img/s   peak RSS %7.0f MiB", key as NSString, fields[0], fields[1])) }
            }
            if json {
                var object: [String: Double] = ["threads": Double(threads)]
                for (key, ips, rss) in results {
                    object[key] = (ips * 100).rounded() / 100
                    object[key + "_peak_rss_mib"] = rss.rounded()
                }
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.sortedKeys]
                print(String(decoding: try encoder.encode(object), as: UTF8.self))
            }
        }
    }
}
