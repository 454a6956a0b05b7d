import Foundation

/// An error raised while reading a PyTorch checkpoint: a forbidden global or opcode, a malformed
/// pickle, a tensor outside its storage, or a damaged archive. Nothing in the file is ever executed.
public struct TorchStateDictError: Error, CustomStringConvertible, Equatable {
    /// What went wrong.
    public enum Kind: String, Sendable, Equatable {
        /// The archive could not be read (see `detail`, which carries the zip error).
        case archive
        /// The pickle names a global (module.name) outside the allow-list.
        case forbiddenGlobal
        /// The pickle uses an opcode the restricted reader does not accept.
        case unsupportedOpcode
        /// The pickle is truncated or its opcodes are inconsistent (stack, memo, marks, types).
        case malformedPickle
        /// A size limit (stack, memo, marks, string length) was exceeded.
        case limitExceeded
        /// A tensor's dtype, shape, strides or offset is invalid or reaches past its storage.
        case invalidTensor
        /// The checkpoint is valid but not a state dict of tensors, or uses an unsupported feature.
        case unsupported
    }

    /// What went wrong.
    public var kind: Kind
    /// The checkpoint file at fault.
    public var file: String
    /// The opcode, global, zip entry or state-dict key at fault, when one is.
    public var subject: String?
    /// The specifics.
    public var detail: String

    /// Creates an error.
    public init(kind: Kind, file: String, subject: String?, detail: String) {
        self.kind = kind
        self.file = file
        self.subject = subject
        self.detail = detail
    }

    /// A message naming the file, the opcode/global/entry/key and what went wrong.
    public var description: String {
        var text = "PyTorch checkpoint '\(file)'"
        if let subject { text += ", \(subject)" }
        text += ": \(detail)."
        switch kind {
        case .forbiddenGlobal, .unsupportedOpcode:
            text += " Only plain state dicts of tensors are read (as torch.load(weights_only=True)); "
                + "nothing in the file was executed. Re-save with torch.save(model.state_dict(), path)."
        case .archive, .malformedPickle, .invalidTensor:
            text += " The file is damaged or was not written by torch.save; re-export or re-download it."
        case .limitExceeded, .unsupported:
            break
        }
        return text
    }
}

/// A value produced by the restricted unpickler. Containers live in the reader's arena and are
/// referred to by index, so values never nest and no recursion is needed to build or free them.
enum PickleValue {
    case none
    case bool(Bool)
    case int(Int64)
    case float(Double)
    case string(String)
    case global(PickleGlobal)
    case tuple(Int)
    case list(Int)
    case dict(Int)
    case storage(Int)
    case tensor(Int)

    var typeName: String {
        switch self {
        case .none: return "None"
        case .bool: return "bool"
        case .int: return "int"
        case .float: return "float"
        case .string: return "str"
        case .global(let g): return "global \(g.qualifiedName)"
        case .tuple: return "tuple"
        case .list: return "list"
        case .dict: return "dict"
        case .storage: return "storage"
        case .tensor: return "tensor"
        }
    }
}

/// The only globals a checkpoint may name.
enum PickleGlobal: Equatable {
    case orderedDict
    case rebuildTensorV2
    case rebuildTensor
    case rebuildParameter
    case storageType(SafeTensorsDType, String)

    static let storageTypes: [String: SafeTensorsDType] = [
        "FloatStorage": .f32, "DoubleStorage": .f64, "HalfStorage": .f16, "BFloat16Storage": .bf16,
        "LongStorage": .i64, "IntStorage": .i32, "ShortStorage": .i16, "CharStorage": .i8,
        "ByteStorage": .u8, "BoolStorage": .bool,
    ]

    init?(module: String, name: String) {
        switch (module, name) {
        case ("collections", "OrderedDict"): self = .orderedDict
        case ("torch._utils", "_rebuild_tensor_v2"): self = .rebuildTensorV2
        case ("torch._utils", "_rebuild_tensor"): self = .rebuildTensor
        case ("torch._utils", "_rebuild_parameter"): self = .rebuildParameter
        default:
            guard module == "torch", let dtype = PickleGlobal.storageTypes[name] else { return nil }
            self = .storageType(dtype, name)
        }
    }

    var qualifiedName: String {
        switch self {
        case .orderedDict: return "collections.OrderedDict"
        case .rebuildTensorV2: return "torch._utils._rebuild_tensor_v2"
        case .rebuildTensor: return "torch._utils._rebuild_tensor"
        case .rebuildParameter: return "torch._utils._rebuild_parameter"
        case .storageType(_, let name): return "torch.\(name)"
        }
    }
}

/// A storage named by a persistent id: its element type and bytes.
struct PickleStorage {
    var dtype: SafeTensorsDType
    var key: String
    var bytes: [UInt8]
}

/// A tensor as `_rebuild_tensor_v2` describes it: a view into a storage.
struct PickleTensor {
    var storage: Int
    var offset: Int
    var shape: [Int]
    var strides: [Int]
}

/// The dict arena entry: ordered pairs plus an index of string keys.
struct PickleDict {
    var pairs: [(PickleValue, PickleValue)] = []
    var stringIndex: [String: Int] = [:]
}

/// Bounds on what a pickle may build.
struct PickleLimits {
    var maxStack = 1 << 20
    var maxMarks = 1 << 16
    var maxMemo = 1 << 22
    var maxObjects = 1 << 24
    var maxGlobalLine = 256
}

/// A restricted unpickler (protocols 2 to 5 framing) for PyTorch state dicts: it accepts only the
/// opcodes a plain state dict needs and only allow-listed globals, and it calls nothing — REDUCE on
/// an allow-listed callable is interpreted by this reader. Persistent ids resolve to storages through
/// `loadStorage`.
struct PickleReader {
    let bytes: [UInt8]
    let file: String
    let limits: PickleLimits
    let loadStorage: (_ key: String, _ dtype: SafeTensorsDType, _ numel: Int) throws -> [UInt8]

    private(set) var tuples: [[PickleValue]] = []
    private(set) var lists: [[PickleValue]] = []
    private(set) var dicts: [PickleDict] = []
    private(set) var storages: [PickleStorage] = []
    private(set) var tensors: [PickleTensor] = []
    private var storageByKey: [String: Int] = [:]
    private var stack: [PickleValue] = []
    private var marks: [Int] = []
    private var memo: [UInt32: PickleValue] = [:]
    private var objectCount = 0
    private var pos = 0
    private var opcodeAt = 0
    private var opcode: UInt8 = 0

    init(bytes: [UInt8], file: String, limits: PickleLimits = PickleLimits(),
         loadStorage: @escaping (String, SafeTensorsDType, Int) throws -> [UInt8]) {
        self.bytes = bytes
        self.file = file
        self.limits = limits
        self.loadStorage = loadStorage
    }

    static let opcodeNames: [UInt8: String] = [
        0x28: "MARK", 0x2e: "STOP", 0x30: "POP", 0x31: "POP_MARK", 0x32: "DUP", 0x46: "FLOAT", 0x49: "INT",
        0x4a: "BININT", 0x4b: "BININT1", 0x4c: "LONG", 0x4d: "BININT2", 0x4e: "NONE", 0x50: "PERSID",
        0x51: "BINPERSID", 0x52: "REDUCE", 0x53: "STRING", 0x54: "BINSTRING", 0x55: "SHORT_BINSTRING",
        0x56: "UNICODE", 0x58: "BINUNICODE", 0x61: "APPEND", 0x62: "BUILD", 0x63: "GLOBAL", 0x64: "DICT",
        0x7d: "EMPTY_DICT", 0x65: "APPENDS", 0x67: "GET", 0x68: "BINGET", 0x69: "INST", 0x6a: "LONG_BINGET",
        0x6c: "LIST", 0x5d: "EMPTY_LIST", 0x6f: "OBJ", 0x70: "PUT", 0x71: "BINPUT", 0x72: "LONG_BINPUT",
        0x73: "SETITEM", 0x74: "TUPLE", 0x29: "EMPTY_TUPLE", 0x75: "SETITEMS", 0x47: "BINFLOAT",
        0x80: "PROTO", 0x81: "NEWOBJ", 0x82: "EXT1", 0x83: "EXT2", 0x84: "EXT4", 0x85: "TUPLE1",
        0x86: "TUPLE2", 0x87: "TUPLE3", 0x88: "NEWTRUE", 0x89: "NEWFALSE", 0x8a: "LONG1", 0x8b: "LONG4",
        0x42: "BINBYTES", 0x43: "SHORT_BINBYTES", 0x8c: "SHORT_BINUNICODE", 0x8d: "BINUNICODE8",
        0x8e: "BINBYTES8", 0x8f: "EMPTY_SET", 0x90: "ADDITEMS", 0x91: "FROZENSET", 0x92: "NEWOBJ_EX",
        0x93: "STACK_GLOBAL", 0x94: "MEMOIZE", 0x95: "FRAME", 0x96: "BYTEARRAY8", 0x97: "NEXT_BUFFER",
        0x98: "READONLY_BUFFER",
    ]

    private var opcodeName: String {
        let hex = "0x" + String(opcode, radix: 16)
        return PickleReader.opcodeNames[opcode].map { "\($0) (\(hex))" } ?? "unknown byte \(hex)"
    }

    private func fail(_ kind: TorchStateDictError.Kind, _ detail: String) -> TorchStateDictError {
        TorchStateDictError(kind: kind, file: file, subject: "data.pkl offset \(opcodeAt), opcode \(opcodeName)",
                            detail: detail)
    }

    // MARK: reading bytes

    private mutating func take(_ n: Int) throws -> ArraySlice<UInt8> {
        guard n >= 0, n <= bytes.count - pos else {
            throw fail(.malformedPickle, "the pickle ends early (needs \(n) more bytes, \(bytes.count - pos) left)")
        }
        defer { pos += n }
        return bytes[pos..<(pos + n)]
    }

    private mutating func uint(_ n: Int) throws -> UInt64 {
        var v: UInt64 = 0
        for (i, b) in try take(n).enumerated() { v |= UInt64(b) << (8 * UInt64(i)) }
        return v
    }

    private mutating func text(_ n: Int) throws -> String {
        guard let s = zipDecodeUTF8(try take(n)) else { throw fail(.malformedPickle, "a string is not valid UTF-8") }
        return s
    }

    private mutating func line() throws -> String {
        var end = pos
        while end < bytes.count && bytes[end] != 0x0a {
            end += 1
            if end - pos > limits.maxGlobalLine { throw fail(.limitExceeded, "a GLOBAL name is longer than \(limits.maxGlobalLine) bytes") }
        }
        guard end < bytes.count else { throw fail(.malformedPickle, "the pickle ends inside a GLOBAL name") }
        let s = try text(end - pos)
        pos += 1
        return s
    }

    // MARK: stack

    private mutating func push(_ v: PickleValue) throws {
        guard stack.count < limits.maxStack else { throw fail(.limitExceeded, "the stack exceeds \(limits.maxStack) items") }
        stack.append(v)
    }

    private mutating func pop() throws -> PickleValue {
        guard let v = stack.popLast(), stack.count >= (marks.last ?? 0) else {
            throw fail(.malformedPickle, "pops from an empty stack (or across a MARK)")
        }
        return v
    }

    private mutating func popMark() throws -> [PickleValue] {
        guard let mark = marks.popLast(), mark <= stack.count else { throw fail(.malformedPickle, "no MARK to pop to") }
        let items = Array(stack[mark...])
        stack.removeSubrange(mark...)
        return items
    }

    private mutating func count(_ n: Int) throws {
        objectCount += n
        if objectCount > limits.maxObjects { throw fail(.limitExceeded, "the pickle builds more than \(limits.maxObjects) objects") }
    }

    private mutating func makeTuple(_ items: [PickleValue]) throws -> PickleValue {
        try count(items.count + 1)
        tuples.append(items)
        return .tuple(tuples.count - 1)
    }

    private mutating func makeDict() throws -> PickleValue {
        try count(1)
        dicts.append(PickleDict())
        return .dict(dicts.count - 1)
    }

    private mutating func memoize(_ index: UInt32) throws {
        guard let top = stack.last, stack.count > (marks.last ?? 0) else { throw fail(.malformedPickle, "memoizes from an empty stack") }
        if memo[index] == nil && memo.count >= limits.maxMemo { throw fail(.limitExceeded, "the memo exceeds \(limits.maxMemo) items") }
        memo[index] = top
    }

    private mutating func recall(_ index: UInt32) throws {
        guard let v = memo[index] else { throw fail(.malformedPickle, "memo key \(index) was never stored") }
        try push(v)
    }

    private mutating func setItems(_ items: [PickleValue], into target: PickleValue) throws {
        guard case .dict(let d) = target else { throw fail(.malformedPickle, "sets items on a \(target.typeName), not a dict") }
        guard items.count % 2 == 0 else { throw fail(.malformedPickle, "an odd number of items for a dict") }
        try count(items.count)
        var i = 0
        while i < items.count {
            let key = items[i], value = items[i + 1]
            switch key {
            case .string(let s):
                if let existing = dicts[d].stringIndex[s] {
                    dicts[d].pairs[existing].1 = value
                } else {
                    dicts[d].stringIndex[s] = dicts[d].pairs.count
                    dicts[d].pairs.append((key, value))
                }
            case .int, .bool, .none, .float:
                dicts[d].pairs.append((key, value))
            default:
                throw fail(.unsupported, "a dict key of type \(key.typeName)")
            }
            i += 2
        }
    }

    // MARK: the allow-listed callables

    private func int(_ v: PickleValue, _ what: String) throws -> Int {
        guard case .int(let i) = v, let n = Int(exactly: i) else { throw fail(.invalidTensor, "\(what) is a \(v.typeName), not an int") }
        return n
    }

    private func ints(_ v: PickleValue, _ what: String) throws -> [Int] {
        guard case .tuple(let t) = v else { throw fail(.invalidTensor, "\(what) is a \(v.typeName), not a tuple") }
        return try tuples[t].map { try int($0, what) }
    }

    private mutating func reduce(_ callable: PickleValue, _ argsValue: PickleValue) throws -> PickleValue {
        guard case .global(let g) = callable else { throw fail(.malformedPickle, "calls a \(callable.typeName), not an allowed global") }
        guard case .tuple(let t) = argsValue else { throw fail(.malformedPickle, "REDUCE arguments are a \(argsValue.typeName), not a tuple") }
        let args = tuples[t]
        switch g {
        case .orderedDict:
            guard args.isEmpty else { throw fail(.unsupported, "collections.OrderedDict called with arguments") }
            return try makeDict()
        case .rebuildTensorV2, .rebuildTensor:
            let minimum = g == .rebuildTensor ? 4 : 6
            guard args.count >= minimum && args.count <= minimum + 1 else {
                throw fail(.invalidTensor, "\(g.qualifiedName) takes \(minimum) arguments, got \(args.count)")
            }
            guard case .storage(let s) = args[0] else { throw fail(.invalidTensor, "the tensor's storage is a \(args[0].typeName)") }
            let tensor = PickleTensor(storage: s, offset: try int(args[1], "storage offset"),
                                      shape: try ints(args[2], "size"), strides: try ints(args[3], "stride"))
            try count(tensor.shape.count + 1)
            tensors.append(tensor)
            return .tensor(tensors.count - 1)
        case .rebuildParameter:
            guard args.count == 3, case .tensor = args[0] else {
                throw fail(.invalidTensor, "torch._utils._rebuild_parameter expects (tensor, requires_grad, hooks)")
            }
            return args[0]
        case .storageType:
            throw fail(.forbiddenGlobal, "\(g.qualifiedName) may only appear in a persistent id, not be called")
        }
    }

    private mutating func persistentLoad(_ pid: PickleValue) throws -> PickleValue {
        guard case .tuple(let t) = pid, tuples[t].count == 5, case .string("storage") = tuples[t][0],
              case .global(.storageType(let dtype, _)) = tuples[t][1], case .string(let key) = tuples[t][2],
              case .string = tuples[t][3], case .int(let numel64) = tuples[t][4], let numel = Int(exactly: numel64), numel >= 0
        else {
            throw fail(.unsupported, "a persistent id that is not ('storage', torch.<Type>Storage, key, location, numel)")
        }
        if let existing = storageByKey[key] {
            guard storages[existing].dtype == dtype, storages[existing].bytes.count == numel * dtype.byteSize else {
                throw fail(.invalidTensor, "storage '\(key)' is named twice with different types or sizes")
            }
            return .storage(existing)
        }
        let data = try loadStorage(key, dtype, numel)
        storages.append(PickleStorage(dtype: dtype, key: key, bytes: data))
        storageByKey[key] = storages.count - 1
        return .storage(storages.count - 1)
    }

    // MARK: the loop

    /// Runs the pickle to STOP and returns the top value.
    mutating func run() throws -> PickleValue {
        while true {
            opcodeAt = pos
            guard pos < bytes.count else { throw fail(.malformedPickle, "the pickle ends without STOP") }
            opcode = bytes[pos]
            pos += 1
            switch opcode {
            case 0x80: // PROTO
                let proto = try uint(1)
                guard proto >= 2 && proto <= 5 else { throw fail(.unsupported, "pickle protocol \(proto)") }
            case 0x95: // FRAME
                _ = try uint(8)
            case 0x2e: // STOP
                guard marks.isEmpty, stack.count == 1 else {
                    throw fail(.malformedPickle, "STOP with \(stack.count) stack items and \(marks.count) open marks")
                }
                return stack[0]
            case 0x28: // MARK
                guard marks.count < limits.maxMarks else { throw fail(.limitExceeded, "more than \(limits.maxMarks) open marks") }
                marks.append(stack.count)
            case 0x7d: try push(try makeDict()) // EMPTY_DICT
            case 0x5d: // EMPTY_LIST
                try count(1)
                lists.append([])
                try push(.list(lists.count - 1))
            case 0x29: try push(try makeTuple([])) // EMPTY_TUPLE
            case 0x74: // TUPLE
                let items = try popMark()
                try push(try makeTuple(items))
            case 0x85, 0x86, 0x87: // TUPLE1..3
                let n = Int(opcode - 0x84)
                var items: [PickleValue] = []
                for _ in 0..<n { items.append(try pop()) }
                try push(try makeTuple(items.reversed()))
            case 0x58: try push(.string(try text(Int(try uint(4))))) // BINUNICODE
            case 0x8c: try push(.string(try text(Int(try uint(1))))) // SHORT_BINUNICODE
            case 0x8d: // BINUNICODE8
                let n = try uint(8)
                guard n <= UInt64(bytes.count - pos) else { throw fail(.malformedPickle, "a string longer than the pickle") }
                try push(.string(try text(Int(n))))
            case 0x4a: try push(.int(Int64(Int32(truncatingIfNeeded: try uint(4))))) // BININT
            case 0x4b: try push(.int(Int64(try uint(1)))) // BININT1
            case 0x4d: try push(.int(Int64(try uint(2)))) // BININT2
            case 0x8a: // LONG1
                let n = Int(try uint(1))
                guard n <= 8 else { throw fail(.unsupported, "an integer of \(n) bytes (more than 64 bits)") }
                var v = try uint(n)
                if n > 0 && n < 8 && v & (1 << (8 * UInt64(n) - 1)) != 0 { v |= ~0 << (8 * UInt64(n)) }
                try push(.int(Int64(bitPattern: v)))
            case 0x47: // BINFLOAT (big-endian)
                var v: UInt64 = 0
                for b in try take(8) { v = v << 8 | UInt64(b) }
                try push(.float(Double(bitPattern: v)))
            case 0x88: try push(.bool(true)) // NEWTRUE
            case 0x89: try push(.bool(false)) // NEWFALSE
            case 0x4e: try push(.none) // NONE
            case 0x71: try memoize(UInt32(try uint(1))) // BINPUT
            case 0x72: try memoize(UInt32(try uint(4))) // LONG_BINPUT
            case 0x94: try memoize(UInt32(truncatingIfNeeded: memo.count)) // MEMOIZE
            case 0x68: try recall(UInt32(try uint(1))) // BINGET
            case 0x6a: try recall(UInt32(try uint(4))) // LONG_BINGET
            case 0x73: // SETITEM
                let value = try pop(), key = try pop()
                guard let target = stack.last, stack.count > (marks.last ?? 0) else { throw fail(.malformedPickle, "SETITEM without a dict") }
                try setItems([key, value], into: target)
            case 0x75: // SETITEMS
                let items = try popMark()
                guard let target = stack.last, stack.count > (marks.last ?? 0) else { throw fail(.malformedPickle, "SETITEMS without a dict") }
                try setItems(items, into: target)
            case 0x61, 0x65: // APPEND, APPENDS
                let items = opcode == 0x61 ? [try pop()] : try popMark()
                guard let target = stack.last, stack.count > (marks.last ?? 0), case .list(let l) = target else {
                    throw fail(.malformedPickle, "appends to something that is not a list")
                }
                try count(items.count)
                lists[l].append(contentsOf: items)
            case 0x63: // GLOBAL
                let module = try line(), name = try line()
                try push(try global(module, name))
            case 0x93: // STACK_GLOBAL
                let nameValue = try pop(), moduleValue = try pop()
                guard case .string(let name) = nameValue, case .string(let module) = moduleValue else {
                    throw fail(.malformedPickle, "STACK_GLOBAL needs two strings")
                }
                try push(try global(module, name))
            case 0x52: // REDUCE
                let args = try pop(), callable = try pop()
                try push(try reduce(callable, args))
            case 0x62: // BUILD
                let state = try pop()
                guard let target = stack.last, stack.count > (marks.last ?? 0), case .dict = target else {
                    throw fail(.unsupported, "BUILD on something other than an OrderedDict")
                }
                switch state {
                case .dict, .none: break // OrderedDict metadata (`_metadata`): ignored.
                case .tuple(let t) where tuples[t].count == 2: break // (state, slotstate)
                default: throw fail(.unsupported, "BUILD with a \(state.typeName) state")
                }
            case 0x51: // BINPERSID
                try push(try persistentLoad(try pop()))
            default:
                throw fail(.unsupportedOpcode, "opcode \(opcodeName) is not allowed in a state dict")
            }
        }
    }

    private func global(_ module: String, _ name: String) throws -> PickleValue {
        guard let g = PickleGlobal(module: module, name: name) else {
            throw TorchStateDictError(kind: .forbiddenGlobal, file: file, subject: "global \(module).\(name)",
                                      detail: "the pickle names \(module).\(name) (at data.pkl offset \(opcodeAt), "
                                          + "opcode \(opcodeName)), which is not on the allow-list of state-dict globals")
        }
        return .global(g)
    }
}
