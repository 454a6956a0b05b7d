import TarsierSupport

extension Module {
    /// Loads a PyTorch `.pth` / `.pt` state dict in place, read safely by `TorchStateDict` (no code in
    /// the file is executed; only allow-listed globals are accepted). A checkpoint dict holding the
    /// weights under `"state_dict"`, `"model_state_dict"` or `"model"` is unwrapped.
    /// - Parameters:
    ///   - strict: as in `loadWeights(from:strict:remap:)`.
    ///   - remap: maps a file key to a model key (nil drops it), e.g. to strip a `"module."` prefix.
    /// - Throws: `TorchStateDictError` for unreadable or unsafe files, `WeightLoadError` for key or
    ///   shape mismatches.
    @discardableResult
    public func loadTorchWeights(from path: String, strict: Bool = true,
                                 remap: ((String) -> String?)? = nil) throws -> WeightLoadReport {
        let entries = try TorchStateDict.read(contentsOf: path)
        return try loadStateDict(entries, strict: strict, remap: remap, file: path)
    }

    /// Loads weights by file extension: `.pth`, `.pt` and `.bin` as PyTorch state dicts, anything
    /// else (normally `.safetensors`) as safetensors.
    @discardableResult
    public func loadAnyWeights(from path: String, strict: Bool = true,
                               remap: ((String) -> String?)? = nil) throws -> WeightLoadReport {
        let lower = path.lowercased()
        if lower.hasSuffix(".pth") || lower.hasSuffix(".pt") || lower.hasSuffix(".bin") {
            return try loadTorchWeights(from: path, strict: strict, remap: remap)
        }
        return try loadWeights(from: path, strict: strict, remap: remap)
    }
}
