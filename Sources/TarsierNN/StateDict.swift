import TarsierCore
import TarsierSupport

/// Why weights did not load: the keys and shapes that do not match the model.
public struct WeightLoadError: Error, CustomStringConvertible {
    /// The weight file (or "<memory>").
    public let file: String
    /// Model keys absent from the file.
    public let missing: [String]
    /// File keys the model does not have.
    public let unexpected: [String]
    /// Keys present in both with different shapes: (key, model shape, file shape).
    public let mismatched: [(String, [Int], [Int])]

    public var description: String {
        var parts: [String] = []
        func few(_ keys: [String]) -> String {
            keys.prefix(5).joined(separator: ", ") + (keys.count > 5 ? " … (\(keys.count) in all)" : "")
        }
        if !mismatched.isEmpty {
            parts.append("shape mismatch: " + mismatched.prefix(5).map { "\($0.0) model \($0.1) vs file \($0.2)" }
                .joined(separator: "; ") + (mismatched.count > 5 ? " … (\(mismatched.count) in all)" : ""))
        }
        if !missing.isEmpty { parts.append("missing in file: \(few(missing))") }
        if !unexpected.isEmpty { parts.append("unexpected in file: \(few(unexpected))") }
        return "\(file): weights do not fit the model — " + parts.joined(separator: "; ")
    }
}

/// What a non-strict load skipped.
public struct WeightLoadReport: Sendable {
    public var loaded: [String]
    public var missing: [String]
    public var unexpected: [String]
}

extension Module {
    /// The state dict as safetensors entries (`num_batches_tracked` as I64, like PyTorch).
    public func stateDictEntries() -> [String: SafeTensorsEntry] {
        var entries: [String: SafeTensorsEntry] = [:]
        for (key, tensor) in stateDict() {
            entries[key] = tensor.safeTensorsEntry(asInteger: key.hasSuffix("num_batches_tracked"))
        }
        return entries
    }

    /// Writes the state dict to a safetensors file atomically.
    public func saveWeights(to path: String, metadata: [String: String] = [:]) throws {
        try SafeTensors.write(stateDictEntries(), metadata: metadata, to: path)
    }

    /// Loads a safetensors state dict in place (parameters keep their identity, so optimisers stay valid).
    /// - Parameters:
    ///   - strict: when true, any missing, unexpected or mismatched key throws `WeightLoadError`;
    ///     otherwise matching keys load and the rest are reported (mismatched shapes always throw).
    ///   - remap: maps a file key to a model key (nil drops it), applied before matching.
    @discardableResult
    public func loadWeights(from path: String, strict: Bool = true,
                            remap: ((String) -> String?)? = nil) throws -> WeightLoadReport {
        let file = try SafeTensors.read(contentsOf: path)
        return try loadStateDict(file.tensors, strict: strict, remap: remap, file: path)
    }

    /// Loads entries by key; see `loadWeights(from:strict:remap:)`.
    @discardableResult
    public func loadStateDict(_ entries: [String: SafeTensorsEntry], strict: Bool = true,
                              remap: ((String) -> String?)? = nil, file: String = "<memory>") throws -> WeightLoadReport {
        var byKey: [String: SafeTensorsEntry] = [:]
        for (key, entry) in entries {
            if let remap { if let mapped = remap(key) { byKey[mapped] = entry } } else { byKey[key] = entry }
        }
        let model = stateDict()
        let modelKeys = Set(model.map(\.0))
        var missing: [String] = [], mismatched: [(String, [Int], [Int])] = []
        for (key, tensor) in model {
            guard let entry = byKey[key] else { missing.append(key); continue }
            if entry.shape != tensor.shape && !(entry.elementCount == 1 && tensor.count == 1) {
                mismatched.append((key, tensor.shape, entry.shape))
            }
        }
        let unexpected = byKey.keys.filter { !modelKeys.contains($0) }.sorted()
        if !mismatched.isEmpty || (strict && (!missing.isEmpty || !unexpected.isEmpty)) {
            throw WeightLoadError(file: file, missing: missing, unexpected: unexpected, mismatched: mismatched)
        }
        var loaded: [String] = []
        for (key, tensor) in model {
            guard let entry = byKey[key] else { continue }
            do {
                tensor.assign(try Tensor(entry: entry))
            } catch {
                throw WeightLoadError(file: file, missing: [], unexpected: [], mismatched: []).withDetail(key, error)
            }
            loaded.append(key)
        }
        return WeightLoadReport(loaded: loaded, missing: missing, unexpected: unexpected)
    }
}

/// A weight value that cannot be converted.
public struct WeightValueError: Error, CustomStringConvertible {
    public let description: String
}

extension WeightLoadError {
    func withDetail(_ key: String, _ error: Error) -> WeightValueError {
        WeightValueError(description: "\(file): key \(key): \(error)")
    }
}
