import Foundation

/// Reads PyTorch `.pth` / `.pt` state dicts (the zip format `torch.save` writes since 1.6) safely,
/// as `torch.load(weights_only=True)` does: the pickle in `<archive>/data.pkl` is interpreted by a
/// restricted reader that accepts only the opcodes and globals a state dict needs and executes
/// nothing; tensors come from `<archive>/data/<key>` storages and are copied out contiguous.
///
/// Accepted globals: `collections.OrderedDict`, `torch._utils._rebuild_tensor_v2`,
/// `torch._utils._rebuild_tensor`, `torch._utils._rebuild_parameter` and the typed storages
/// `torch.{Float,Double,Half,BFloat16,Long,Int,Short,Char,Byte,Bool}Storage`.
public enum TorchStateDict {
    /// The largest `data.pkl` accepted.
    public static let maximumPickleBytes = 256 << 20
    /// The largest tensor materialised from fewer storage elements than it has (stride-0 views).
    public static let maximumExpandedBytes = 256 << 20

    /// Reads the tensors of a state dict file.
    ///
    /// A top-level dict whose values are all tensors is the state dict. Otherwise (a training
    /// checkpoint) the dict under `"state_dict"`, `"model_state_dict"` or `"model"` is used when
    /// its values are all tensors.
    /// - Returns: The tensors by key, contiguous, little-endian.
    /// - Throws: `TorchStateDictError` naming the file and the opcode, global, entry or key at fault.
    public static func read(contentsOf path: String) throws -> [String: SafeTensorsEntry] {
        let archive: ZipArchive
        do {
            archive = try ZipArchive(path: path)
        } catch let error as ZipArchiveError {
            throw wrap(error, path)
        }
        // torch.save names every entry "<archive>/..."; the pickle is "<archive>/data.pkl".
        let pickles = archive.entries.filter {
            $0.name.hasSuffix("/data.pkl") && $0.name.dropLast("/data.pkl".count).firstIndex(of: "/") == nil
        }
        guard pickles.count == 1, let pickleEntry = pickles.first else {
            throw TorchStateDictError(kind: .unsupported, file: path, subject: nil,
                                      detail: pickles.isEmpty ? "the zip archive has no '<archive>/data.pkl' entry; "
                                          + "it was not written by torch.save"
                                          : "the zip archive has \(pickles.count) '<archive>/data.pkl' entries")
        }
        let prefix = String(pickleEntry.name.dropLast("data.pkl".count))
        do {
            if let order = archive.entry(named: prefix + "byteorder") {
                let text = String(decoding: try archive.read(order), as: UTF8.self)
                    .trimmingCharacters(in: .whitespacesAndNewlines)
                guard text == "little" else {
                    throw TorchStateDictError(kind: .unsupported, file: path, subject: "entry '\(order.name)'",
                                              detail: "byte order '\(text)' is not supported (only little-endian)")
                }
            }
            guard pickleEntry.uncompressedSize <= maximumPickleBytes else {
                throw TorchStateDictError(kind: .limitExceeded, file: path, subject: "entry '\(pickleEntry.name)'",
                                          detail: "data.pkl is \(pickleEntry.uncompressedSize) bytes, over the "
                                              + "\(maximumPickleBytes)-byte limit")
            }
            let pickle = try archive.read(pickleEntry)
            var reader = PickleReader(bytes: pickle, file: path) { key, dtype, numel in
                let name = prefix + "data/" + key
                guard let entry = archive.entry(named: name) else {
                    throw TorchStateDictError(kind: .archive, file: path, subject: "entry '\(name)'",
                                              detail: "storage '\(key)' named by the pickle is not in the archive")
                }
                let (needed, overflow) = numel.multipliedReportingOverflow(by: dtype.byteSize)
                guard !overflow, entry.uncompressedSize == needed else {
                    throw TorchStateDictError(kind: .invalidTensor, file: path, subject: "entry '\(name)'",
                                              detail: "storage of \(numel) \(dtype.rawValue) elements needs "
                                                  + "\(overflow ? "too many" : String(needed)) bytes but the entry has "
                                                  + "\(entry.uncompressedSize)")
                }
                return try archive.read(entry)
            }
            let top = try reader.run()
            return try extract(top, reader, path)
        } catch let error as ZipArchiveError {
            throw wrap(error, path)
        }
    }

    private static func wrap(_ error: ZipArchiveError, _ path: String) -> TorchStateDictError {
        TorchStateDictError(kind: .archive, file: path, subject: error.entry.map { "entry '\($0)'" },
                            detail: "\(error.kind.rawValue): \(error.detail)")
    }

    private static func extract(_ top: PickleValue, _ reader: PickleReader, _ path: String) throws
        -> [String: SafeTensorsEntry] {
        guard case .dict(let d) = top else {
            throw TorchStateDictError(kind: .unsupported, file: path, subject: nil,
                                      detail: "the file holds a \(top.typeName), not a state dict")
        }
        var dict = reader.dicts[d]
        let allTensors: (PickleDict) -> Bool = { dict in
            dict.pairs.allSatisfy { if case .tensor = $0.1 { return true } else { return false } }
        }
        if !allTensors(dict) {
            for name in ["state_dict", "model_state_dict", "model"] {
                if let i = dict.stringIndex[name], case .dict(let inner) = dict.pairs[i].1, allTensors(reader.dicts[inner]) {
                    dict = reader.dicts[inner]
                    break
                }
            }
        }
        var result: [String: SafeTensorsEntry] = [:]
        for (key, value) in dict.pairs {
            guard case .string(let name) = key else {
                throw TorchStateDictError(kind: .unsupported, file: path, subject: nil,
                                          detail: "a state-dict key of type \(key.typeName)")
            }
            guard case .tensor(let t) = value else {
                throw TorchStateDictError(kind: .unsupported, file: path, subject: "key '\(name)'",
                                          detail: "the value is a \(value.typeName), not a tensor (no nested "
                                              + "'state_dict', 'model_state_dict' or 'model' dict of tensors either)")
            }
            let tensor = reader.tensors[t]
            result[name] = try materialise(tensor, reader.storages[tensor.storage], key: name, path: path)
        }
        return result
    }

    /// Copies a (possibly strided, offset) view of a storage into a contiguous entry, checking
    /// that every element it addresses lies inside the storage.
    static func materialise(_ tensor: PickleTensor, _ storage: PickleStorage, key: String, path: String) throws
        -> SafeTensorsEntry {
        func fail(_ detail: String) -> TorchStateDictError {
            TorchStateDictError(kind: .invalidTensor, file: path, subject: "key '\(key)'", detail: detail)
        }
        let shape = tensor.shape, strides = tensor.strides, offset = tensor.offset
        let size = storage.dtype.byteSize
        let numel = storage.bytes.count / size
        guard shape.count == strides.count else { throw fail("size \(shape) and stride \(strides) differ in rank") }
        guard shape.allSatisfy({ $0 >= 0 }), strides.allSatisfy({ $0 >= 0 }), offset >= 0 else {
            throw fail("negative size, stride or offset (size \(shape), stride \(strides), offset \(offset))")
        }
        var count = 1, last = offset
        for (n, s) in zip(shape, strides) {
            let (c, o1) = count.multipliedReportingOverflow(by: n)
            let (reach, o2) = (Swift.max(n, 1) - 1).multipliedReportingOverflow(by: s)
            let (l, o3) = last.addingReportingOverflow(reach)
            guard !o1, !o2, !o3 else { throw fail("size \(shape) with stride \(strides) overflows") }
            count = c
            last = l
        }
        if count > 0 && last >= numel {
            throw fail("the view (offset \(offset), size \(shape), stride \(strides)) reaches element \(last) "
                       + "of a \(numel)-element storage '\(storage.key)'")
        }
        let (byteCount, overflow) = count.multipliedReportingOverflow(by: size)
        guard !overflow else { throw fail("size \(shape) overflows") }
        if count > numel && byteCount > maximumExpandedBytes {
            throw fail("an expanded view of \(byteCount) bytes over a \(numel)-element storage exceeds "
                       + "the \(maximumExpandedBytes)-byte limit")
        }
        if count == 0 { return SafeTensorsEntry(dtype: storage.dtype, shape: shape, data: []) }
        // Contiguous row-major: one slice.
        if StridedTraversal.isRowMajor(shape: shape, strides: strides) {
            return SafeTensorsEntry(dtype: storage.dtype, shape: shape,
                                    data: Array(storage.bytes[(offset * size)..<((offset + count) * size)]))
        }
        let inner = shape.last ?? 1, innerStride = strides.last ?? 1
        let data = [UInt8](unsafeUninitializedCapacity: byteCount) { out, initialized in
            storage.bytes.withUnsafeBufferPointer { src in
                StridedTraversal.forEachRow(shape: shape, strides: strides, offset: offset) { source, destination in
                    for i in 0..<inner {
                        let from = (source + i * innerStride) * size, to = (destination + i) * size
                        for b in 0..<size { out[to + b] = src[from + b] }
                    }
                }
            }
            initialized = byteCount
        }
        return SafeTensorsEntry(dtype: storage.dtype, shape: shape, data: data)
    }
}
