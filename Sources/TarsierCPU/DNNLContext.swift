import CDNNL
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Namespace for the Float32 CPU kernels built on oneDNN. Every pointer is a caller-owned,
/// contiguous buffer in PyTorch's layout (NCHW activations, OIHW weights).
///
/// Primitives are created on first use and cached by shape, so repeated calls with the same
/// geometry only bind pointers and execute. Calls are thread-safe; calls that share a geometry
/// run one at a time because they share the cached memory objects and scratch buffers.
public enum DNNL {
    /// Sets the number of threads oneDNN (OpenMP) uses from now on.
    ///
    /// Call it once before the first kernel. Calling it later also works but drops the cached
    /// primitives, because they keep the thread partitioning they were created with. The count
    /// is applied on every calling thread, because OpenMP keeps it per thread.
    /// - Parameter n: Threads to use; must be positive.
    public static func setThreadCount(_ n: Int) {
        precondition(n > 0, "DNNL.setThreadCount: thread count must be positive, got \(n)")
        // Only effective before libgomp initialises; kept for child processes and for clarity.
        setenv("OMP_NUM_THREADS", String(n), 1)
        OpenMP.requestedThreads.store(n, ordering: .relaxed)
        OpenMP.apply()
        DNNLContext.shared.clearCache()
    }

    /// The thread count set by `setThreadCount`, else the number of online cores; the plain
    /// kernels split their work this many ways.
    public static var threadCount: Int {
        let requested = OpenMP.requestedThreads.load(ordering: .relaxed)
        return requested > 0 ? requested : Swift.max(1, sysconf(Int32(_SC_NPROCESSORS_ONLN)))
    }
}

/// OpenMP's `omp_set_num_threads`, looked up at run time: the system module map links only
/// libdnnl, which loads libgomp itself.
enum OpenMP {
    typealias SetNumThreads = @convention(c) (Int32) -> Void

    static let requestedThreads = Atomic<Int>(0)

    static let setNumThreads: SetNumThreads? = {
        let handle = dlopen("libgomp.so.1", RTLD_NOW | RTLD_NOLOAD) ?? dlopen(nil, RTLD_NOW)
        guard let symbol = dlsym(handle, "omp_set_num_threads") else { return nil }
        return unsafeBitCast(symbol, to: SetNumThreads.self)
    }()

    /// Applies the requested thread count to the calling thread (OpenMP's setting is per thread).
    @inline(__always)
    static func apply() {
        let n = requestedThreads.load(ordering: .relaxed)
        if n > 0 { setNumThreads?(Int32(n)) }
    }

    typealias ParallelEntry = @convention(c) (UnsafeMutableRawPointer?) -> Void
    typealias Parallel = @convention(c) (ParallelEntry, UnsafeMutableRawPointer?, UInt32, UInt32) -> Void
    typealias ThreadQuery = @convention(c) () -> Int32

    /// libgomp's entry for `#pragma omp parallel` and the thread queries used inside it.
    static let runtime: (parallel: Parallel, threadNumber: ThreadQuery, threadCount: ThreadQuery)? = {
        let handle = dlopen("libgomp.so.1", RTLD_NOW | RTLD_NOLOAD) ?? dlopen(nil, RTLD_NOW)
        guard let parallel = dlsym(handle, "GOMP_parallel"),
              let number = dlsym(handle, "omp_get_thread_num"),
              let count = dlsym(handle, "omp_get_num_threads") else { return nil }
        return (unsafeBitCast(parallel, to: Parallel.self), unsafeBitCast(number, to: ThreadQuery.self),
                unsafeBitCast(count, to: ThreadQuery.self))
    }()

    /// Runs `body(part, parts)` once per thread of an OpenMP team of up to `threads` threads,
    /// the team oneDNN's kernels use. Plain-Swift or C kernels split their work this way
    /// rather than on other threads, which would compete with OpenMP's threads while those
    /// spin-wait after a oneDNN call (measured: max pooling took 1.7x as long on Dispatch
    /// threads). Runs `body(0, 1)` on the calling thread when OpenMP is unavailable.
    static func parallel(threads: Int, _ body: (Int, Int) -> Void) {
        guard threads > 1, let runtime else { body(0, 1); return }
        withoutActuallyEscaping(body) { body in
            var job = body
            withUnsafeMutablePointer(to: &job) { pointer in
                runtime.parallel({ raw in
                    guard let runtime = OpenMP.runtime, let raw else { return }
                    let body = raw.assumingMemoryBound(to: ((Int, Int) -> Void).self).pointee
                    body(Int(runtime.threadNumber()), Int(runtime.threadCount()))
                }, UnsafeMutableRawPointer(pointer), UInt32(threads), 0)
            }
        }
    }
}

/// Traps on a failed oneDNN call: with validated shapes a failure is a programmer error.
@inline(__always)
func dnnlCheck(_ status: dnnl_status_t, _ what: @autoclosure () -> String) {
    if status != dnnl_success {
        preconditionFailure("oneDNN \(what()) failed: \(describe(status))")
    }
}

func describe(_ status: dnnl_status_t) -> String {
    switch status {
    case dnnl_success: return "success"
    case dnnl_out_of_memory: return "out_of_memory"
    case dnnl_invalid_arguments: return "invalid_arguments"
    case dnnl_unimplemented: return "unimplemented"
    case dnnl_iterator_ends: return "iterator_ends"
    case dnnl_runtime_error: return "runtime_error"
    case dnnl_not_required: return "not_required"
    default: return "status \(status.rawValue)"
    }
}

/// What a cached plan computes; the geometry is part of the key.
enum PlanKey: Hashable {
    case convForward(ConvGeometry, bias: Bool, bfloat16: Bool, ConvAlgorithm, inference: Bool,
                     relu: Bool, accumulate: Bool)
    case convBackwardData(ConvGeometry, bfloat16: Bool, ConvAlgorithm)
    case convBackwardWeights(ConvGeometry, bias: Bool, bfloat16: Bool, ConvAlgorithm)
    case maxPoolForward(PoolGeometry, training: Bool)
    case maxPoolBackward(PoolGeometry)
    case avgPoolForward(PoolGeometry)
    case avgPoolBackward(PoolGeometry)
    case batchNorm(BatchNormKey)
    case eltwise(EltwiseKey)
    case bfloat16Matmul(m: Int, n: Int, k: Int)
}

/// The process-wide engine and stream, plus the cache of primitives by geometry.
final class DNNLContext: @unchecked Sendable {
    /// Created on first use; Swift initialises static lets once, thread-safely.
    static let shared = DNNLContext()

    let engine: dnnl_engine_t
    let stream: dnnl_stream_t
    private let plans = Mutex<[PlanKey: Plan]>([:])

    private init() {
        var engine: dnnl_engine_t?
        dnnlCheck(dnnl_engine_create(&engine, dnnl_cpu, 0), "engine_create")
        guard let engine else { preconditionFailure("oneDNN engine_create returned no engine") }
        var stream: dnnl_stream_t?
        dnnlCheck(dnnl_stream_create(&stream, engine, dnnl_stream_default_flags.rawValue),
                  "stream_create")
        guard let stream else { preconditionFailure("oneDNN stream_create returned no stream") }
        self.engine = engine
        self.stream = stream
    }

    /// Returns the cached plan for `key`, building it under the lock the first time.
    func plan(_ key: PlanKey, make: () -> Plan) -> Plan {
        plans.withLock { plans in
            if let plan = plans[key] { return plan }
            let plan = make()
            plans[key] = plan
            return plan
        }
    }

    func clearCache() {
        plans.withLock { $0.removeAll() }
    }

    // MARK: Descriptor helpers

    /// A Float32 (or other type) memory descriptor with the given dims and layout tag.
    func desc(_ dims: [Int], _ tag: dnnl_format_tag_t,
              _ type: dnnl_data_type_t = dnnl_f32) -> dnnl_memory_desc_t {
        var md = dnnl_memory_desc_t()
        let dims64 = dims.map { Int64($0) }
        dnnlCheck(dnnl_memory_desc_init_by_tag(&md, Int32(dims64.count), dims64, type, tag),
                  "memory_desc_init_by_tag \(dims)")
        return md
    }

    /// Creates a primitive descriptor for an op descriptor: the first implementation oneDNN
    /// offers, or the first named with the `preferring` prefix when it offers one.
    func primitiveDesc(_ opDesc: UnsafeRawPointer, hint: dnnl_primitive_desc_t? = nil,
                       attributes: PrimitiveAttributes? = nil, preferring: String? = nil,
                       _ name: String) -> dnnl_primitive_desc_t {
        if let preferring, let pd = implementation(opDesc, hint: hint, attributes: attributes, named: preferring) {
            return pd
        }
        var pd: dnnl_primitive_desc_t?
        dnnlCheck(dnnl_primitive_desc_create(&pd, opDesc, attributes?.attr, engine, hint),
                  "primitive_desc_create (\(name))")
        guard let pd else { preconditionFailure("oneDNN \(name): no primitive descriptor") }
        return pd
    }

    /// The first implementation whose name starts with `prefix`, if oneDNN offers one.
    private func implementation(_ opDesc: UnsafeRawPointer, hint: dnnl_primitive_desc_t?,
                                attributes: PrimitiveAttributes?, named prefix: String) -> dnnl_primitive_desc_t? {
        var iterator: dnnl_primitive_desc_iterator_t?
        guard dnnl_primitive_desc_iterator_create(&iterator, opDesc, attributes?.attr, engine, hint) == dnnl_success,
              let iterator else { return nil }
        defer { dnnl_primitive_desc_iterator_destroy(iterator) }
        repeat {
            guard let pd = dnnl_primitive_desc_iterator_fetch(iterator) else { return nil }
            if implementation(pd).hasPrefix(prefix) { return pd }
            dnnl_primitive_desc_destroy(pd)
        } while dnnl_primitive_desc_iterator_next(iterator) == dnnl_success
        return nil
    }

    /// Like `primitiveDesc`, but nil when oneDNN has no implementation (to fall back on another
    /// algorithm); other failures still trap.
    func tryPrimitiveDesc(_ opDesc: UnsafeRawPointer, hint: dnnl_primitive_desc_t? = nil,
                          attributes: PrimitiveAttributes? = nil) -> dnnl_primitive_desc_t? {
        var pd: dnnl_primitive_desc_t?
        let status = dnnl_primitive_desc_create(&pd, opDesc, attributes?.attr, engine, hint)
        if status == dnnl_unimplemented { return nil }
        dnnlCheck(status, "primitive_desc_create")
        return pd
    }

    /// The memory descriptor a primitive descriptor chose for one of its arguments.
    func query(_ pd: dnnl_primitive_desc_t, _ what: dnnl_query_t,
               _ name: String) -> dnnl_memory_desc_t {
        guard let md = dnnl_primitive_desc_query_md(pd, what, 0) else {
            preconditionFailure("oneDNN \(name): query \(what.rawValue) returned no descriptor")
        }
        return md.pointee
    }

    func memory(_ md: dnnl_memory_desc_t, allocate: Bool, _ name: String) -> dnnl_memory_t {
        var md = md
        var memory: dnnl_memory_t?
        // DNNL_MEMORY_ALLOCATE is ((void *)(size_t)-1); DNNL_MEMORY_NONE is NULL.
        let handle = allocate ? UnsafeMutableRawPointer(bitPattern: -1) : nil
        dnnlCheck(dnnl_memory_create(&memory, &md, engine, handle), "memory_create (\(name))")
        guard let memory else { preconditionFailure("oneDNN \(name): no memory object") }
        return memory
    }

    func primitive(_ pd: dnnl_primitive_desc_t, _ name: String) -> dnnl_primitive_t {
        var primitive: dnnl_primitive_t?
        dnnlCheck(dnnl_primitive_create(&primitive, pd), "primitive_create (\(name))")
        guard let primitive else { preconditionFailure("oneDNN \(name): no primitive") }
        return primitive
    }

    func execute(_ primitive: dnnl_primitive_t, _ args: [dnnl_exec_arg_t], _ name: String) {
        args.withUnsafeBufferPointer { args in
            dnnlCheck(dnnl_primitive_execute(primitive, stream, Int32(args.count), args.baseAddress),
                      "primitive_execute (\(name))")
        }
    }

    /// The implementation oneDNN picked, e.g. "jit:avx512_core"; for diagnostics.
    func implementation(_ pd: dnnl_primitive_desc_t) -> String {
        var info: UnsafePointer<CChar>?
        guard dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &info) == dnnl_success,
              let info else { return "?" }
        return String(cString: info)
    }
}

/// oneDNN primitive attributes; today only a ReLU post-op (applied to a primitive's output as
/// it is written, saving a pass over it).
final class PrimitiveAttributes {
    let attr: dnnl_primitive_attr_t

    /// Post-ops in oneDNN's order: `postSum` adds the destination's previous contents to the
    /// result, then `postReLU` applies ReLU.
    init(postSum: Bool = false, postReLU: Bool) {
        var attr: dnnl_primitive_attr_t?
        dnnlCheck(dnnl_primitive_attr_create(&attr), "primitive_attr_create")
        guard let attr else { preconditionFailure("oneDNN primitive_attr_create returned nothing") }
        self.attr = attr
        if postSum || postReLU {
            var postOps: dnnl_post_ops_t?
            dnnlCheck(dnnl_post_ops_create(&postOps), "post_ops_create")
            guard let postOps else { preconditionFailure("oneDNN post_ops_create returned nothing") }
            defer { dnnl_post_ops_destroy(postOps) }
            if postSum { dnnlCheck(dnnl_post_ops_append_sum(postOps, 1), "post_ops_append_sum") }
            if postReLU {
                dnnlCheck(dnnl_post_ops_append_eltwise(postOps, 1, dnnl_eltwise_relu, 0, 0),
                          "post_ops_append_eltwise")
            }
            dnnlCheck(dnnl_primitive_attr_set_post_ops(attr, postOps), "primitive_attr_set_post_ops")
        }
    }

    deinit { dnnl_primitive_attr_destroy(attr) }
}

/// One argument of a plan: the caller's plain buffer, and oneDNN's preferred layout when it
/// differs, with the reorder between them.
final class Edge {
    enum Direction { case input, output }

    let direction: Direction
    /// Plain layout; its data handle is rebound to the caller's pointer on every call.
    let user: dnnl_memory_t
    /// oneDNN's layout, without a buffer of its own: `Plan.execute` points it into the shared
    /// staging buffer for the call. Nil when it equals the plain layout.
    let inner: dnnl_memory_t?
    /// Bytes `inner` needs (0 without one).
    let innerBytes: Int
    /// The layout of `inner` (the plain one without it).
    let innerDesc: dnnl_memory_desc_t
    /// Reordered copies of inputs the caller marked as cacheable, by identity and offset.
    var cachedCopies: [CopyKey: CachedCopy] = [:]
    /// user -> inner for inputs, inner -> user for outputs.
    let reorder: dnnl_primitive_t?
    /// The same reorder as plain copies, where it is one between NHWC and nChw16c.
    let channelBlocks: ChannelBlockReorder?
    let reorderArgs: [dnnl_exec_arg_t]

    /// Memory that the main primitive reads or writes.
    var memory: dnnl_memory_t { inner ?? user }

    init(_ direction: Direction, plain: dnnl_memory_desc_t, chosen: dnnl_memory_desc_t,
         _ name: String) {
        let context = DNNLContext.shared
        self.direction = direction
        var plain = plain
        var chosen = chosen
        user = context.memory(plain, allocate: false, name)
        innerDesc = chosen
        guard dnnl_memory_desc_equal(&plain, &chosen) == 0 else {
            inner = nil
            innerBytes = 0
            reorder = nil
            channelBlocks = nil
            reorderArgs = []
            return
        }
        let inner = context.memory(chosen, allocate: false, name)
        var pd: dnnl_primitive_desc_t?
        let (from, to) = direction == .input ? (plain, chosen) : (chosen, plain)
        channelBlocks = ChannelBlockReorder(from: from, to: to)
        withUnsafePointer(to: from) { from in
            withUnsafePointer(to: to) { to in
                dnnlCheck(dnnl_reorder_primitive_desc_create(&pd, from, context.engine, to,
                                                             context.engine, nil),
                          "reorder_primitive_desc_create (\(name))")
            }
        }
        guard let pd else { preconditionFailure("oneDNN reorder (\(name)): no descriptor") }
        defer { dnnl_primitive_desc_destroy(pd) }
        self.inner = inner
        innerBytes = dnnl_memory_desc_get_size(&chosen)
        reorder = context.primitive(pd, "reorder (\(name))")
        let (source, destination) = direction == .input ? (user, inner) : (inner, user)
        reorderArgs = [dnnl_exec_arg_t(arg: DNNL_ARG_FROM, memory: source),
                       dnnl_exec_arg_t(arg: DNNL_ARG_TO, memory: destination)]
    }

    /// An argument used in its plain layout.
    convenience init(_ direction: Direction, plain: dnnl_memory_desc_t, _ name: String) {
        self.init(direction, plain: plain, chosen: plain, name)
    }

    struct CopyKey: Hashable { var identity: UInt64, offset: Int }

    final class CachedCopy {
        var version: UInt64
        let buffer: UnsafeMutableRawPointer
        init(version: UInt64, bytes: Int) {
            self.version = version
            buffer = UnsafeMutableRawPointer.allocate(byteCount: max(bytes, 64),
                                                      alignment: StagingBuffer.alignment)
        }
        deinit { buffer.deallocate() }
    }

    /// A plan keeps at most this many cached copies (and bytes) per argument; past either the
    /// cache restarts (models are rebuilt, weights are replaced: old entries would pile up).
    static let maximumCachedCopies = 256
    static let maximumCachedBytes = 512 << 20

    /// Points `inner` at the cached copy for `operand`, and returns whether that copy is current
    /// (otherwise the caller reorders into it and it becomes current).
    func bindCachedCopy(_ operand: OperandVersion) -> Bool {
        guard let inner else { return true }
        let key = CopyKey(identity: operand.identity, offset: operand.offset)
        let copy: CachedCopy
        var current = false
        if let existing = cachedCopies[key] {
            copy = existing
            current = existing.version == operand.version
            existing.version = operand.version
        } else {
            if cachedCopies.count >= Self.maximumCachedCopies
                || (cachedCopies.count + 1) * innerBytes > Self.maximumCachedBytes {
                cachedCopies.removeAll()
            }
            copy = CachedCopy(version: operand.version, bytes: innerBytes)
            cachedCopies[key] = copy
        }
        dnnlCheck(dnnl_memory_set_data_handle(inner, copy.buffer), "memory_set_data_handle (cache)")
        return current
    }

    /// Runs the reorder between `user` and `inner` (bound for this call).
    func reorderForCall(_ name: String) {
        guard let reorder else { return }
        guard let channelBlocks, let inner else {
            DNNLContext.shared.execute(reorder, reorderArgs, "reorder (\(name))")
            return
        }
        var userHandle: UnsafeMutableRawPointer?, innerHandle: UnsafeMutableRawPointer?
        dnnlCheck(dnnl_memory_get_data_handle(user, &userHandle), "memory_get_data_handle (\(name))")
        dnnlCheck(dnnl_memory_get_data_handle(inner, &innerHandle), "memory_get_data_handle (\(name))")
        guard let userHandle, let innerHandle else { preconditionFailure("\(name): unbound reorder operand") }
        if direction == .input {
            channelBlocks.run(from: userHandle, to: innerHandle)
        } else {
            channelBlocks.run(from: innerHandle, to: userHandle)
        }
    }

    deinit {
        if let reorder { dnnl_primitive_destroy(reorder) }
        if let inner { dnnl_memory_destroy(inner) }
        dnnl_memory_destroy(user)
    }
}

/// One buffer that every plan borrows for its reordered operands during a call, so that the
/// blocked copies of activations and weights exist once, sized for the largest plan, instead of
/// once per plan (with Winograd that was about 220 MB for a ResNet-18 at 224 px). A call that
/// finds it in use (plans running on two threads) gets a buffer of its own for that call.
final class StagingBuffer: @unchecked Sendable {
    static let shared = StagingBuffer()

    private struct State {
        var buffer: UnsafeMutableRawPointer?
        var capacity = 0
        var inUse = false
    }

    private let state = Mutex(State())
    static let alignment = 64

    /// Calls `body` with at least `bytes` bytes of 64-byte aligned scratch memory.
    func with<R>(bytes: Int, _ body: (UnsafeMutableRawPointer) -> R) -> R {
        let shared: UnsafeMutableRawPointer? = state.withLock { state in
            guard !state.inUse else { return nil }
            if state.capacity < bytes {
                state.buffer?.deallocate()
                state.buffer = UnsafeMutableRawPointer.allocate(byteCount: bytes,
                                                                alignment: Self.alignment)
                state.capacity = bytes
            }
            state.inUse = true
            return state.buffer
        }
        if let shared {
            defer { state.withLock { $0.inUse = false } }
            return body(shared)
        }
        let own = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: Self.alignment)
        defer { own.deallocate() }
        return body(own)
    }
}

/// Reordered copies of operands that consecutive plans read in the same layout. A convolution's
/// destination gradient is converted (to bf16, or to Winograd's blocked layout) for its
/// backward-data pass and again for its backward-weights pass; with the copy kept here the
/// second finds the first's. resnet9s at batch 256 converted 256x32x28x28 and 256x64x14x14
/// gradients twice, about 3 ms of a training step. Only the last `capacity` copies are kept, so
/// no activation outlives the next few calls; a plan holds the table while it runs, so a copy
/// it reads is not replaced under it.
final class SharedCopies: @unchecked Sendable {
    static let shared = SharedCopies()
    /// Copies kept: a backward-data and a backward-weights pass share one, and the
    /// backward-weights pass's own source conversion must not evict it.
    static let capacity = 2

    final class Copy {
        var operand: OperandVersion
        var desc: dnnl_memory_desc_t
        var buffer: UnsafeMutableRawPointer
        var bytes: Int
        var lastUse: UInt64

        init(operand: OperandVersion, desc: dnnl_memory_desc_t, bytes: Int, lastUse: UInt64) {
            self.operand = operand
            self.desc = desc
            self.bytes = bytes
            self.lastUse = lastUse
            buffer = UnsafeMutableRawPointer.allocate(byteCount: Swift.max(bytes, 64), alignment: StagingBuffer.alignment)
        }

        deinit { buffer.deallocate() }
    }

    struct Table {
        var copies: [Copy] = []
        var clock: UInt64 = 0

        /// Points `edge.inner` at the copy of `operand` in the edge's layout, making room for
        /// one if there is none; returns whether that copy is current (else the caller reorders
        /// into it, and it becomes current).
        mutating func bind(_ edge: Edge, to operand: OperandVersion) -> Bool {
            guard let inner = edge.inner else { return true }
            clock &+= 1
            var desc = edge.innerDesc
            var current = true
            let copy: Copy
            if let found = copies.first(where: { $0.operand == operand && dnnl_memory_desc_equal(&$0.desc, &desc) != 0 }) {
                copy = found
            } else {
                current = false
                if copies.count < SharedCopies.capacity {
                    copy = Copy(operand: operand, desc: desc, bytes: edge.innerBytes, lastUse: clock)
                    copies.append(copy)
                } else {
                    let oldest = copies.indices.min { copies[$0].lastUse < copies[$1].lastUse } ?? 0
                    if copies[oldest].bytes < edge.innerBytes {
                        copies[oldest] = Copy(operand: operand, desc: desc, bytes: edge.innerBytes, lastUse: clock)
                    }
                    copy = copies[oldest]
                    copy.operand = operand
                    copy.desc = desc
                }
            }
            copy.lastUse = clock
            dnnlCheck(dnnl_memory_set_data_handle(inner, copy.buffer), "memory_set_data_handle (shared copy)")
            return current
        }
    }

    private let table = Mutex(Table())

    /// Runs `body` with the table locked.
    func withTable<R>(_ body: (inout Table) -> R) -> R {
        table.withLock { body(&$0) }
    }
}

/// A cached primitive with its arguments: bind the caller's pointers, reorder inputs, execute,
/// reorder outputs.
final class Plan: @unchecked Sendable {
    let name: String
    private let primitive: dnnl_primitive_t
    private let edges: [(arg: Int32, edge: Edge)]
    private let args: [dnnl_exec_arg_t]
    /// Inputs whose reordered copies the plan keeps between calls (`execute`'s `cached`); they
    /// take no room in the staging buffer.
    private let cacheable: Set<Int32>
    /// Where each other reordered operand starts in the staging buffer, and the bytes needed.
    private let stagingOffsets: [Int]
    private let stagingBytes: Int
    /// Size of the workspace the caller owns (max pooling), else 0.
    let workspaceBytes: Int
    /// Outputs reordered back after the primitive runs, and whether one of them is a plain copy
    /// (which must wait for the primitive to finish).
    private let reorderedOutputs: [Edge]
    private let copiesOutputs: Bool
    /// Serialises calls: they share the memory objects.
    private let lock = Mutex(())

    /// Creates the primitive from `pd`; the caller still owns (and destroys) `pd`.
    init(_ name: String, pd: dnnl_primitive_desc_t, edges: [(arg: Int32, edge: Edge)],
         workspaceBytes: Int = 0, cacheable: Set<Int32> = []) {
        self.name = name
        self.primitive = DNNLContext.shared.primitive(pd, name)
        self.edges = edges
        self.args = edges.map { dnnl_exec_arg_t(arg: $0.arg, memory: $0.edge.memory) }
        var offsets: [Int] = []
        var total = 0
        for (arg, edge) in edges {
            offsets.append(total)
            guard !cacheable.contains(arg) else { continue }
            let align = StagingBuffer.alignment
            total += (edge.innerBytes + align - 1) / align * align
        }
        self.cacheable = cacheable
        stagingOffsets = offsets
        stagingBytes = total
        self.workspaceBytes = workspaceBytes
        reorderedOutputs = edges.map(\.edge).filter { $0.direction == .output && $0.reorder != nil }
        copiesOutputs = reorderedOutputs.contains { $0.channelBlocks != nil }
    }

    deinit { dnnl_primitive_destroy(primitive) }

    /// Runs the plan; `bindings` must name every argument exactly once. Inputs named in `cached`
    /// keep their reordered copy between calls, rebuilt only when their version changes. Inputs
    /// named in `shared` take their reordered copy from `SharedCopies`, where the next plan that
    /// reads the same operand in the same layout finds it.
    func execute(_ bindings: [(Int32, UnsafeMutableRawPointer)],
                 cached: [Int32: OperandVersion] = [:], shared: [Int32: OperandVersion] = [:]) {
        precondition(bindings.count == edges.count,
                     "\(name): expected \(edges.count) arguments, got \(bindings.count)")
        OpenMP.apply()
        lock.withLock { _ in
            for (arg, pointer) in bindings {
                dnnlCheck(dnnl_memory_set_data_handle(edge(arg).user, pointer),
                          "memory_set_data_handle (\(name))")
            }
            var current: Set<Int32> = []
            for (arg, operand) in cached {
                precondition(cacheable.contains(arg), "\(name): argument \(arg) is not cacheable in this plan")
                if edge(arg).bindCachedCopy(operand) { current.insert(arg) }
            }
            guard !shared.isEmpty else {
                runStaged(skippingReordersOf: current, unstaged: [])
                return
            }
            SharedCopies.shared.withTable { table in
                for (arg, operand) in shared {
                    let edge = edge(arg)
                    precondition(edge.direction == .input && !cacheable.contains(arg),
                                 "\(name): argument \(arg) cannot be shared")
                    if table.bind(edge, to: operand) { current.insert(arg) }
                }
                runStaged(skippingReordersOf: current, unstaged: Set(shared.keys))
            }
        }
    }

    private func edge(_ arg: Int32) -> Edge {
        guard let edge = edges.first(where: { $0.arg == arg })?.edge else {
            preconditionFailure("\(name): unexpected argument \(arg)")
        }
        return edge
    }

    /// Points the reordered operands but `unstaged` (and the cached ones) into the staging
    /// buffer and runs.
    private func runStaged(skippingReordersOf current: Set<Int32>, unstaged: Set<Int32>) {
        guard stagingBytes > 0 else {
            run(skippingReordersOf: current)
            return
        }
        StagingBuffer.shared.with(bytes: stagingBytes) { staging in
            for ((arg, edge), offset) in zip(edges, stagingOffsets)
            where !cacheable.contains(arg) && !unstaged.contains(arg) {
                guard let inner = edge.inner else { continue }
                dnnlCheck(dnnl_memory_set_data_handle(inner, staging + offset),
                          "memory_set_data_handle (\(name))")
            }
            run(skippingReordersOf: current)
        }
    }

    /// Reorders the inputs (but those whose cached copy is current), runs the primitive,
    /// reorders the outputs and waits.
    private func run(skippingReordersOf current: Set<Int32>) {
        let context = DNNLContext.shared
        for (arg, edge) in edges where edge.direction == .input && !current.contains(arg) {
            edge.reorderForCall(name)
        }
        context.execute(primitive, args, name)
        // Plain copies read what the primitive wrote: wait for it first.
        if copiesOutputs { dnnlCheck(dnnl_stream_wait(context.stream), "stream_wait (\(name))") }
        for edge in reorderedOutputs { edge.reorderForCall(name) }
        dnnlCheck(dnnl_stream_wait(context.stream), "stream_wait (\(name))")
    }
}

@inline(__always)
func raw(_ pointer: UnsafePointer<Float>) -> UnsafeMutableRawPointer {
    UnsafeMutableRawPointer(mutating: pointer)
}

@inline(__always)
func raw(_ pointer: UnsafeMutablePointer<Float>) -> UnsafeMutableRawPointer {
    UnsafeMutableRawPointer(pointer)
}
