import TarsierCore
import TarsierNN
import TarsierOptim
import TarsierVision
import TarsierSupport
#if canImport(Glibc)
import Glibc
#endif

/// The throughput benchmark: the workloads and keys of `shared/anchors/torch_baseline.py`
/// (model, input size, batch, SGD with momentum 0.9 and weight decay, cross-entropy, random
/// inputs), timed per step after warm-up; the figure is batch / median step time.
public enum Benchmark {
    /// One workload.
    public struct Workload: Sendable {
        public let key: String
        let model: String
        let inputShape: [Int]
        let classCount: Int
        let batch: Int
        let training: Bool
        let steps: Int
        let warmup: Int
    }

    /// The workloads, in the order the PyTorch script runs them.
    public static let workloads: [Workload] = [
        Workload(key: "lenet_fmnist_train_b128", model: "lenet5", inputShape: [1, 28, 28], classCount: 10, batch: 128,
                 training: true, steps: 30, warmup: 3),
        Workload(key: "lenet_fmnist_infer_b1024", model: "lenet5", inputShape: [1, 28, 28], classCount: 10, batch: 1024,
                 training: false, steps: 10, warmup: 3),
        Workload(key: "resnet18_32px_train_b64", model: "resnet18", inputShape: [3, 32, 32], classCount: 10, batch: 64,
                 training: true, steps: 10, warmup: 3),
        Workload(key: "resnet18_224px_train_b16", model: "resnet18", inputShape: [3, 224, 224], classCount: 1000, batch: 16,
                 training: true, steps: 5, warmup: 2),
        Workload(key: "resnet18_224px_infer_b16", model: "resnet18", inputShape: [3, 224, 224], classCount: 1000, batch: 16,
                 training: false, steps: 5, warmup: 2),
        Workload(key: "resnet18_224px_infer_b1", model: "resnet18", inputShape: [3, 224, 224], classCount: 1000, batch: 1,
                 training: false, steps: 10, warmup: 3),
    ]

    /// Runs one workload and returns images per second (median step).
    public static func run(_ w: Workload) throws -> Double {
        RandomState.seed(0)
        let model = try ModelZoo.make(w.model, classCount: w.classCount, inputChannels: w.inputShape[0])
        var generator = SeededGenerator(seed: 1)
        let x = Tensor.normal([w.batch] + w.inputShape, generator: &generator)
        let labels = (0..<w.batch).map { _ in generator.nextInt(below: w.classCount) }
        var times: [Double] = []
        if w.training {
            model.train()
            let optimizer = SGD(parameters: model.parameters(), learningRate: 0.01, momentum: 0.9, weightDecay: 5e-4)
            for _ in 0..<(w.warmup + w.steps) {
                let start = monotonicSeconds()
                optimizer.zeroGrad()
                let loss = try Loss.crossEntropy(model(x), labels: labels)
                loss.backward()
                optimizer.step()
                times.append(monotonicSeconds() - start)
            }
        } else {
            model.eval()
            try Autograd.withNoGrad {
                for _ in 0..<(w.warmup + w.steps) {
                    let start = monotonicSeconds()
                    _ = try model(x).toArray()
                    times.append(monotonicSeconds() - start)
                }
            }
        }
        let measured = times.dropFirst(w.warmup).sorted()
        return Double(w.batch) / measured[measured.count / 2]
    }

    /// Peak resident memory of this process so far, in MiB.
    public static func peakResidentMiB() -> Double {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return Double(usage.ru_maxrss) / 1024
    }
}
