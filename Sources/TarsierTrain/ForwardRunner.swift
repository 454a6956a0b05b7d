import TarsierCore
import TarsierNN
import TarsierSupport
import TarsierVision

/// Runs a zoo model in eval mode on a stored input, for parity checks against PyTorch.
public enum ForwardRunner {
    /// Errors about the input file.
    public struct InputError: Error, CustomStringConvertible {
        public let description: String
    }

    /// Loads `weights` (strict) into the named model and runs it on the tensor `input` of `inputFile`.
    /// - Returns: "output", and with `gradients` also "input.grad" and "<key>.grad" for every
    ///   parameter: the gradients of sum(output).
    public static func run(model name: String, classCount: Int, weights: String, inputFile: String,
                           gradients: Bool) throws -> [String: SafeTensorsEntry] {
        let file = try SafeTensors.read(contentsOf: inputFile)
        guard let entry = file.tensors["input"] else {
            throw InputError(description: "\(inputFile): no tensor named \"input\" (keys: \(file.tensors.keys.sorted().joined(separator: ", ")))")
        }
        var x = try Tensor(entry: entry).cast(to: .float32)
        guard x.rank == 4 else {
            throw InputError(description: "\(inputFile): \"input\" must be [N, C, H, W], got \(x.shape)")
        }
        let net = try ModelZoo.make(name, classCount: classCount, inputChannels: x.shape[1])
        try net.loadWeights(from: weights, strict: true)
        net.eval()
        if gradients { x = x.requiringGrad() }
        let y = try net(x)
        var out: [String: SafeTensorsEntry] = ["output": y.safeTensorsEntry()]
        guard gradients else { return out }
        y.sum().backward()
        if let g = x.grad { out["input.grad"] = g.safeTensorsEntry() }
        for (key, p) in net.namedParameters() {
            if let g = p.grad { out["\(key).grad"] = g.safeTensorsEntry() }
        }
        return out
    }
}
