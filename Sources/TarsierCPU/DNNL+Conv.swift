import CDNNL
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

// Convolutions let oneDNN choose its layouts (`format_tag_any`, typically nChw16c activations
// and blocked weights) and reorder from and to the caller's plain NCHW/OIHW at the edges: on
// this machine that is up to 4x faster than running on plain layouts (backward weights most).
// Float32 3x3 stride-1 convolutions may use Winograd F(4x4, 3x3) in backward passes and in
// inference (`DNNL.winogradConvolutions`, `ConvPlans.algorithm`): on this CPU its kernels ran
// 1.2-2.3x faster than the direct ones on ResNet-18's layers (batch 16), before the reorders to
// and from the blocked layout it needs.

extension DNNL {
    /// The convolution passes that compute in bfloat16: operands rounded to bf16, products
    /// accumulated and results returned in Float32 (as PyTorch's CPU autocast). On CPUs with
    /// AVX512-BF16 or AMX this is faster; callers' buffers stay Float32 either way.
    public static var bfloat16Convolutions: ConvolutionPasses {
        get { ConvolutionPasses(rawValue: ConvPlans.bfloat16.load(ordering: .relaxed)) }
        set { ConvPlans.bfloat16.store(newValue.rawValue, ordering: .relaxed) }
    }

    /// Whether Float32 convolutions with 3x3 kernels, stride 1, no dilation and no groups use
    /// oneDNN's Winograd F(4x4, 3x3) kernels where it has them (blocked layouts, AVX-512),
    /// falling back to the direct algorithm elsewhere: in backward passes and in inference,
    /// never in a training forward pass (see `ConvPlans.algorithm`). Its rounding is about 8x the
    /// direct kernel's (measured in `ConvTests`). Passes that run in bf16 always use the direct
    /// algorithm. The default is on; the environment variable
    /// `TARSIER_WINOGRAD=off` (or `0`) turns it off for a whole process.
    public static var winogradConvolutions: Bool {
        get { ConvPlans.winograd.load(ordering: .relaxed) }
        set { ConvPlans.winograd.store(newValue, ordering: .relaxed) }
    }

    /// True when the CPU computes bf16 natively (AVX512-BF16 or AMX), so bf16 convolutions pay off.
    public static var hasNativeBFloat16: Bool {
        let isa = dnnl_get_effective_cpu_isa()
        return isa == dnnl_cpu_isa_avx512_core_bf16 || isa == dnnl_cpu_isa_avx512_core_amx
    }

    /// Forward 2-D convolution: `destination = conv(source, weight) + bias`.
    /// - Parameters:
    ///   - g: The geometry.
    ///   - source: `[batch, inChannels, inHeight, inWidth]`.
    ///   - weight: `[outChannels, inChannels / groups, kernelHeight, kernelWidth]`.
    ///   - bias: `[outChannels]`, or nil for none.
    ///   - destination: `[batch, outChannels, outHeight, outWidth]`, overwritten.
    ///   - relu: Apply ReLU to the result as it is written (a oneDNN post-op).
    ///   - inferenceWeight: For inference (no backward pass will follow): the weight's identity
    ///     and version. oneDNN's inference kernels run, and the weight's reordered copy is kept
    ///     and reused until the version changes, instead of being rebuilt on every call.
    ///   - accumulate: `destination` holds an addend (a residual connection's shortcut): the
    ///     result is `conv + bias + destination`, before the ReLU. Only for a channel-blocked
    ///     destination, which the kernel writes in place.
    public static func conv2dForward(_ g: ConvGeometry, source: UnsafePointer<Float>,
                                     weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
                                     destination: UnsafeMutablePointer<Float>, relu: Bool = false,
                                     inferenceWeight: OperandVersion? = nil, accumulate: Bool = false) {
        precondition(!accumulate || g.destinationLayout == .channelBlocked,
                     "conv2dForward: accumulate needs a channel-blocked destination: \(g)")
        if SmallImageConv.applies(g, bfloat16: bfloat16Convolutions.contains(.forward, for: g)) {
            SmallImageConv.forward(g, source: source, weight: weight, bias: bias, destination: destination, relu: relu)
            return
        }
        let plan = ConvPlans.forwardPlan(g, bias: bias != nil, relu: relu,
                                         inference: inferenceWeight != nil, accumulate: accumulate)
        var bindings = [(DNNL_ARG_SRC, raw(source)), (DNNL_ARG_WEIGHTS, raw(weight)),
                        (DNNL_ARG_DST, raw(destination))]
        if let bias { bindings.append((DNNL_ARG_BIAS, raw(bias))) }
        plan.execute(bindings, cached: inferenceWeight.map { [DNNL_ARG_WEIGHTS: $0] } ?? [:])
    }

    /// Gradient of a 2-D convolution with respect to its source.
    /// - Parameters:
    ///   - g: The geometry of the forward convolution.
    ///   - destinationGradient: `[batch, outChannels, outHeight, outWidth]`.
    ///   - weight: `[outChannels, inChannels / groups, kernelHeight, kernelWidth]`.
    ///   - sourceGradient: `[batch, inChannels, inHeight, inWidth]`, overwritten.
    ///   - destinationGradientVersion: The destination gradient's identity and version, when the
    ///     caller has one: its reordered (bf16 or blocked) copy is then kept for the
    ///     backward-weights pass that reads it next (`SharedCopies`).
    public static func conv2dBackwardData(_ g: ConvGeometry,
                                          destinationGradient: UnsafePointer<Float>,
                                          weight: UnsafePointer<Float>,
                                          sourceGradient: UnsafeMutablePointer<Float>,
                                          destinationGradientVersion: OperandVersion? = nil) {
        if SmallImageConv.appliesBackwardData(g, bfloat16: bfloat16Convolutions.contains(.backwardData, for: g)) {
            SmallImageConv.backwardData(g, destinationGradient: destinationGradient, weight: weight,
                                        sourceGradient: sourceGradient)
            return
        }
        let (plan, runsAsForward) = ConvPlans.backwardDataPlan(g)
        guard runsAsForward else {
            plan.execute([(DNNL_ARG_DIFF_DST, raw(destinationGradient)), (DNNL_ARG_WEIGHTS, raw(weight)),
                          (DNNL_ARG_DIFF_SRC, raw(sourceGradient))],
                         shared: destinationGradientVersion.map { [DNNL_ARG_DIFF_DST: $0] } ?? [:])
            return
        }
        let count = g.outChannels * (g.inChannels / g.groups) * g.kernelHeight * g.kernelWidth
        let flipped = UnsafeMutablePointer<Float>.allocate(capacity: count)
        defer { flipped.deallocate() }
        ConvPlans.flipAndTranspose(g, weight: weight, into: flipped)
        plan.execute([(DNNL_ARG_SRC, raw(destinationGradient)), (DNNL_ARG_WEIGHTS, raw(flipped)),
                      (DNNL_ARG_DST, raw(sourceGradient))],
                     shared: destinationGradientVersion.map { [DNNL_ARG_SRC: $0] } ?? [:])
    }

    /// Gradients of a 2-D convolution with respect to its weight and bias.
    /// - Parameters:
    ///   - g: The geometry of the forward convolution.
    ///   - source: `[batch, inChannels, inHeight, inWidth]`, the forward input.
    ///   - destinationGradient: `[batch, outChannels, outHeight, outWidth]`.
    ///   - weightGradient: `[outChannels, inChannels / groups, kernelHeight, kernelWidth]`,
    ///     overwritten (not accumulated).
    ///   - biasGradient: `[outChannels]`, overwritten; nil to skip it.
    ///   - destinationGradientVersion: The destination gradient's identity and version, when the
    ///     caller has one: a reordered copy the backward-data pass left is then reused.
    public static func conv2dBackwardWeights(_ g: ConvGeometry, source: UnsafePointer<Float>,
                                             destinationGradient: UnsafePointer<Float>,
                                             weightGradient: UnsafeMutablePointer<Float>,
                                             biasGradient: UnsafeMutablePointer<Float>?,
                                             destinationGradientVersion: OperandVersion? = nil) {
        if SmallImageConv.applies(g, bfloat16: bfloat16Convolutions.contains(.backwardWeights, for: g)) {
            SmallImageConv.backwardWeights(g, source: source, destinationGradient: destinationGradient,
                                           weightGradient: weightGradient, biasGradient: biasGradient)
            return
        }
        if bfloat16Convolutions.contains(.backwardWeights, for: g) && LoweredWeightGradient.applies(g) {
            LoweredWeightGradient.backwardWeights(g, source: source, destinationGradient: destinationGradient,
                                                  weightGradient: weightGradient, biasGradient: biasGradient)
            return
        }
        let plan = ConvPlans.backwardWeightsPlan(g, bias: biasGradient != nil)
        var bindings = [(DNNL_ARG_SRC, raw(source)), (DNNL_ARG_DIFF_DST, raw(destinationGradient)),
                        (DNNL_ARG_DIFF_WEIGHTS, raw(weightGradient))]
        if let biasGradient { bindings.append((DNNL_ARG_DIFF_BIAS, raw(biasGradient))) }
        plan.execute(bindings, shared: destinationGradientVersion.map { [DNNL_ARG_DIFF_DST: $0] } ?? [:])
    }
}

extension DNNL {
    /// The names of the plans `g` runs (algorithm and oneDNN implementation): training forward,
    /// backward data, backward weights and inference forward, building them if needed; for
    /// tests and diagnostics.
    static func convolutionPlanNames(_ g: ConvGeometry) -> [String] {
        func name(_ pass: ConvolutionPasses, _ plan: () -> Plan) -> String {
            let bfloat16 = bfloat16Convolutions.contains(pass, for: g)
            let small = pass == .backwardData ? SmallImageConv.appliesBackwardData(g, bfloat16: bfloat16)
                : SmallImageConv.applies(g, bfloat16: bfloat16)
            if small { return "matrix products per linked pixel pair (small image)" }
            if pass == .backwardWeights && bfloat16 && LoweredWeightGradient.applies(g) {
                return "bf16 matrix product over the lowered source (small image)"
            }
            return plan().name
        }
        return [name(.forward) { ConvPlans.forwardPlan(g, bias: false, relu: false, inference: false) },
                name(.backwardData) { ConvPlans.backwardDataPlan(g).plan },
                name(.backwardWeights) { ConvPlans.backwardWeightsPlan(g, bias: false) },
                name(.forward) { ConvPlans.forwardPlan(g, bias: false, relu: false, inference: true) }]
    }
}

/// A set of convolution passes.
public struct ConvolutionPasses: OptionSet, Sendable, Hashable {
    public let rawValue: Int
    public init(rawValue: Int) { self.rawValue = rawValue }
    public static let forward = ConvolutionPasses(rawValue: 1)
    public static let backwardData = ConvolutionPasses(rawValue: 2)
    public static let backwardWeights = ConvolutionPasses(rawValue: 4)
    /// The backward-weights pass where bf16 was measured faster than Float32 (resnet9s at batch
    /// 256 on this CPU):
    /// - on images of at least `largeImagePixels` output pixels with 16 or more input channels,
    ///   where oneDNN 2.6's AMX kernels beat Float32 Winograd with its reorders by about 2x
    ///   (28x28 and 14x14);
    /// - on images under 7x7 but larger than `SmallImageConv`'s (`LoweredWeightGradient`): a
    ///   128-channel layer on 3x3 images took 2.2-2.5 against 3.4-4.1 ms.
    /// On 7x7, Float32 Winograd was about as fast as either bf16 route or faster, and on 1x1 and
    /// 2x2 images `SmallImageConv`'s Float32 products were.
    public static let backwardWeightsWhereFaster = ConvolutionPasses(rawValue: 8)
    public static let all: ConvolutionPasses = [.forward, .backwardData, .backwardWeights]

    /// Output pixels per image from which `backwardWeightsWhereFaster` uses oneDNN's bf16 kernels (14x14).
    public static let largeImagePixels = 196

    /// Whether `pass` (one of forward, backward data, backward weights) of `g` runs in bf16.
    public func contains(_ pass: ConvolutionPasses, for g: ConvGeometry) -> Bool {
        if contains(pass) { return true }
        guard pass == .backwardWeights && contains(.backwardWeightsWhereFaster) else { return false }
        let largeImage = g.outHeight * g.outWidth >= Self.largeImagePixels && g.inChannels / g.groups >= 16
        return largeImage || LoweredWeightGradient.applies(g)
    }
}

/// Builds the cached convolution plans.
enum ConvPlans {
    /// Lets oneDNN pick blocked layouts; false runs on the plain layouts (for comparison).
    static let preferBlockedLayouts = true
    /// Backing store of `DNNL.bfloat16Convolutions`.
    static let bfloat16 = Atomic<Int>(0)
    /// Backing store of `DNNL.winogradConvolutions`.
    static let winograd = Atomic<Bool>(winogradDefault())

    static func winogradDefault() -> Bool {
        guard let value = getenv("TARSIER_WINOGRAD") else { return true }
        return !["0", "off", "false", "no"].contains(String(cString: value).lowercased())
    }

    /// The cached forward plan for `g` under the current precision and Winograd settings;
    /// `bfloat16` overrides the precision setting.
    static func forwardPlan(_ g: ConvGeometry, bias: Bool, relu: Bool, inference: Bool,
                            accumulate: Bool = false, bfloat16: Bool? = nil) -> Plan {
        let half = bfloat16 ?? DNNL.bfloat16Convolutions.contains(.forward, for: g)
        let algorithm = algorithm(g, .forward, bfloat16: half, cachedWeight: inference)
        return DNNLContext.shared.plan(.convForward(g, bias: bias, bfloat16: half, algorithm,
                                                    inference: inference, relu: relu,
                                                    accumulate: accumulate)) {
            forward(g, bias: bias, bfloat16: half, algorithm: algorithm, inference: inference,
                    relu: relu, accumulate: accumulate)
        }
    }

    /// The cached backward-data plan for `g`, and whether it is the forward convolution of
    /// `g.transposedForBackwardData` (it then takes the destination gradient as source and
    /// `flipAndTranspose`'s weight).
    ///
    /// bf16 passes take that route where it exists: oneDNN 2.6's AMX backward-data kernels ran
    /// 1.3-4x slower than its forward (brgconv) kernels on the same work for resnet9s's layers
    /// at batch 256 on this CPU. In Float32 the two ran alike, so the native pass stays.
    static func backwardDataPlan(_ g: ConvGeometry) -> (plan: Plan, runsAsForward: Bool) {
        let half = DNNL.bfloat16Convolutions.contains(.backwardData, for: g)
        if half, let transposed = g.transposedForBackwardData {
            return (forwardPlan(transposed, bias: false, relu: false, inference: false, bfloat16: true), true)
        }
        let algorithm = algorithm(g, .backwardData, bfloat16: half)
        return (DNNLContext.shared.plan(.convBackwardData(g, bfloat16: half, algorithm)) {
            backwardData(g, bfloat16: half, algorithm: algorithm)
        }, false)
    }

    /// Writes `weight` (`[outChannels, inChannels / groups, kH, kW]`) as the weight of
    /// `g.transposedForBackwardData`: `[inChannels, outChannels / groups, kH, kW]`, each kernel
    /// rotated by 180 degrees.
    static func flipAndTranspose(_ g: ConvGeometry, weight: UnsafePointer<Float>,
                                 into flipped: UnsafeMutablePointer<Float>) {
        let outPerGroup = g.outChannels / g.groups, inPerGroup = g.inChannels / g.groups
        let kernelSize = g.kernelHeight * g.kernelWidth
        for group in 0..<g.groups {
            for output in 0..<outPerGroup {
                for input in 0..<inPerGroup {
                    let source = weight + ((group * outPerGroup + output) * inPerGroup + input) * kernelSize
                    let destination = flipped + ((group * inPerGroup + input) * outPerGroup + output) * kernelSize
                    for tap in 0..<kernelSize { destination[kernelSize - 1 - tap] = source[tap] }
                }
            }
        }
    }

    /// The cached backward-weights plan for `g`.
    static func backwardWeightsPlan(_ g: ConvGeometry, bias: Bool) -> Plan {
        let half = DNNL.bfloat16Convolutions.contains(.backwardWeights, for: g)
        let algorithm = algorithm(g, .backwardWeights, bfloat16: half)
        return DNNLContext.shared.plan(.convBackwardWeights(g, bias: bias, bfloat16: half,
                                                            algorithm)) {
            backwardWeights(g, bias: bias, bfloat16: half, algorithm: algorithm)
        }
    }

    /// Fewest 4x4 output tiles (over the batch) for which Winograd is chosen: below it the
    /// per-call weight transform costs more than the arithmetic saved (measured on ResNet-18:
    /// batch-1 inference at 224 px slowed down with Winograd on its 7x7 to 28x28 layers).
    static let winogradMinimumTiles = 64
    /// The same when the transformed weight is reused across calls (inference).
    static let winogradMinimumTilesCachedWeight = 16

    /// The algorithm a pass asks oneDNN for: Winograd only where it is enabled and the geometry
    /// is one its kernels cover and that is large enough to gain; oneDNN may still decline it
    /// (see `makeDesc`). Outputs under 4x4 would mostly compute tile padding, and fewer than 16
    /// channels would be padded to 16 (a 3x3 stem on a gray image would do 16x the work).
    /// `cachedWeight` marks an inference forward pass: its weight transform is paid once, so
    /// fewer tiles suffice.
    static func algorithm(_ g: ConvGeometry, _ pass: ConvolutionPasses, bfloat16: Bool,
                          cachedWeight: Bool = false) -> ConvAlgorithm {
        // A training forward pass stays direct: Winograd's rounding (about 2e-6 of the output's
        // scale) moved ReLU and max-pool decisions enough to change VGG-11-BN's input gradient
        // by 2% against PyTorch's. Backward passes make no such decisions, and inference
        // outputs are continuous in it.
        guard pass != .forward || cachedWeight else { return .direct }
        let minimumTiles = cachedWeight ? winogradMinimumTilesCachedWeight : winogradMinimumTiles
        let tiles = g.batch * ((g.outHeight + 3) / 4) * ((g.outWidth + 3) / 4)
        let eligible = g.kernelHeight == 3 && g.kernelWidth == 3 && g.strideHeight == 1
            && g.strideWidth == 1 && g.dilationHeight == 1 && g.dilationWidth == 1
            && g.groups == 1 && g.inChannels >= 16 && g.outChannels >= 16
            && g.outHeight >= 4 && g.outWidth >= 4 && tiles >= minimumTiles
        return eligible && !bfloat16 && winograd.load(ordering: .relaxed) ? .winograd : .direct
    }

    /// The operands of a convolution, to choose which run in bf16.
    enum Operand: Hashable { case source, weight, destination }

    /// Plain descriptors of the caller's buffers, and the ones handed to the op descriptor.
    struct Descs {
        var source, weight, bias, destination: dnnl_memory_desc_t
        var strides, dilations, padding: [Int64]

        /// `lowPrecision` makes the operands named in it bf16 (the op descriptor's view only).
        /// `blockedActivations` lets oneDNN choose the activations' layout even for
        /// channels-last callers (Winograd has no NHWC kernels).
        init(_ g: ConvGeometry, any: Bool, blockedActivations: Bool = false,
             lowPrecision: Set<Operand> = []) {
            g.validate()
            let context = DNNLContext.shared
            // Channel-blocked activations are oneDNN's own layout and channels-last ones are used
            // as they are (its direct kernels run NHWC natively); NCHW ones are reordered to the
            // blocked layout oneDNN prefers, as is any operand beside a channel-blocked one.
            func activation(_ layout: ActivationLayout) -> dnnl_format_tag_t {
                guard any, layout != .channelBlocked else { return layout.tag }
                return blockedActivations || layout == .rowMajor || g.hasChannelBlocks
                    ? dnnl_format_tag_any : layout.tag
            }
            func type(_ operand: Operand) -> dnnl_data_type_t {
                lowPrecision.contains(operand) ? dnnl_bf16 : dnnl_f32
            }
            source = context.desc([g.batch, g.inChannels, g.inHeight, g.inWidth],
                                  activation(g.sourceLayout), type(.source))
            destination = context.desc([g.batch, g.outChannels, g.outHeight, g.outWidth],
                                       activation(g.destinationLayout), type(.destination))
            // OIHW with groups is [G, O/G, I/G, kH, kW] in memory, i.e. goihw.
            if g.groups == 1 {
                weight = context.desc([g.outChannels, g.inChannels, g.kernelHeight,
                                       g.kernelWidth], any ? dnnl_format_tag_any : dnnl_oihw, type(.weight))
            } else {
                weight = context.desc([g.groups, g.outChannels / g.groups,
                                       g.inChannels / g.groups, g.kernelHeight, g.kernelWidth],
                                      any ? dnnl_format_tag_any : dnnl_goihw, type(.weight))
            }
            bias = context.desc([g.outChannels], dnnl_a)
            strides = [Int64(g.strideHeight), Int64(g.strideWidth)]
            // oneDNN counts dilation from 0 (dense), PyTorch from 1.
            dilations = [Int64(g.dilationHeight - 1), Int64(g.dilationWidth - 1)]
            padding = [Int64(g.padHeight), Int64(g.padWidth)]
        }
    }

    /// Builds a primitive descriptor with `algorithm`, or with the direct algorithm when oneDNN
    /// has no Winograd kernel for these shapes (it then reports `unimplemented`). `make` fills
    /// the op descriptor from the operands' descriptors and the oneDNN algorithm.
    static func makeDesc(_ g: ConvGeometry, _ algorithm: ConvAlgorithm, lowPrecision: Set<Operand>,
                         hint: (ConvAlgorithm) -> dnnl_primitive_desc_t?,
                         attributes: PrimitiveAttributes? = nil, _ name: String,
                         _ make: (inout Descs, dnnl_alg_kind_t, inout dnnl_convolution_desc_t) -> Void)
        -> (pd: dnnl_primitive_desc_t, algorithm: ConvAlgorithm) {
        let context = DNNLContext.shared
        if algorithm == .winograd {
            var d = Descs(g, any: true, blockedActivations: true, lowPrecision: lowPrecision)
            var op = dnnl_convolution_desc_t()
            make(&d, dnnl_convolution_winograd, &op)
            let hintDesc = hint(.winograd)
            defer { if let hintDesc { dnnl_primitive_desc_destroy(hintDesc) } }
            if let pd = context.tryPrimitiveDesc(&op, hint: hintDesc, attributes: attributes) {
                return (pd, .winograd)
            }
        }
        var d = Descs(g, any: preferBlockedLayouts, lowPrecision: lowPrecision)
        var op = dnnl_convolution_desc_t()
        make(&d, dnnl_convolution_direct, &op)
        let hintDesc = hint(.direct)
        defer { if let hintDesc { dnnl_primitive_desc_destroy(hintDesc) } }
        return (context.primitiveDesc(&op, hint: hintDesc, attributes: attributes,
                                      preferring: preferredDirectKernel(g, lowPrecision: lowPrecision),
                                      "\(name) \(g)"), .direct)
    }

    /// The direct kernel to take over oneDNN's first choice, if any. With fewer than 16 input
    /// channels its first choice in Float32 (`brgconv`) ran up to 2x slower than `jit:avx512_core`
    /// (batch 128, LeNet's 1->6 and 6->16 5x5 forward passes: 0.53 against 0.26 ms and 0.25
    /// against 0.19 ms; a 1->16 3x3 stem at batch 256: 0.70 against 0.35 ms; ResNet's 3->64 stem
    /// about 10%); from 16 channels up the two were level or brgconv won.
    static func preferredDirectKernel(_ g: ConvGeometry, lowPrecision: Set<Operand>) -> String? {
        lowPrecision.isEmpty && g.groups == 1 && g.inChannels < 16 ? "jit:avx512_core" : nil
    }

    /// A forward-training primitive descriptor; also the hint the backward passes need.
    static func forwardDesc(_ g: ConvGeometry, bias: Bool, bfloat16: Bool, algorithm: ConvAlgorithm,
                            inference: Bool = false, relu: Bool = false, accumulate: Bool = false,
                            lowPrecision: Set<Operand> = [.source, .weight])
        -> (pd: dnnl_primitive_desc_t, algorithm: ConvAlgorithm) {
        makeDesc(g, algorithm, lowPrecision: bfloat16 ? lowPrecision : [], hint: { _ in nil },
                 attributes: relu || accumulate ? PrimitiveAttributes(postSum: accumulate, postReLU: relu) : nil,
                 "convolution forward") { d, kind, op in
            withUnsafePointer(to: d.bias) { biasDesc in
                dnnlCheck(dnnl_dilated_convolution_forward_desc_init(
                    &op, inference ? dnnl_forward_inference : dnnl_forward_training, kind,
                    &d.source, &d.weight,
                    bias ? biasDesc : nil, &d.destination, d.strides, d.dilations, d.padding,
                    d.padding), "convolution_forward_desc_init \(g)")
            }
        }
    }

    static func forward(_ g: ConvGeometry, bias: Bool, bfloat16: Bool, algorithm: ConvAlgorithm,
                        inference: Bool = false, relu: Bool = false, accumulate: Bool = false) -> Plan {
        let context = DNNLContext.shared
        let plain = Descs(g, any: false)
        let (pd, chosen) = forwardDesc(g, bias: bias, bfloat16: bfloat16, algorithm: algorithm,
                                       inference: inference, relu: relu, accumulate: accumulate)
        defer { dnnl_primitive_desc_destroy(pd) }
        var edges: [(arg: Int32, edge: Edge)] = [
            (DNNL_ARG_SRC, Edge(.input, plain: plain.source,
                                chosen: context.query(pd, dnnl_query_src_md, "conv fwd"),
                                "conv fwd src")),
            (DNNL_ARG_WEIGHTS, Edge(.input, plain: plain.weight,
                                    chosen: context.query(pd, dnnl_query_weights_md, "conv fwd"),
                                    "conv fwd weights")),
            (DNNL_ARG_DST, Edge(.output, plain: plain.destination,
                                chosen: context.query(pd, dnnl_query_dst_md, "conv fwd"),
                                "conv fwd dst")),
        ]
        if bias { edges.append((DNNL_ARG_BIAS, Edge(.input, plain: plain.bias, "conv fwd bias"))) }
        // The addend is read where the result goes: the caller's buffer, never a reordered copy.
        precondition(!accumulate || edges.allSatisfy { $0.arg != DNNL_ARG_DST || $0.edge.inner == nil },
                     "convolution forward: an accumulating destination must be in the kernel's layout: \(g)")
        let postOps = (accumulate ? " + sum" : "") + (relu ? " + relu" : "")
        return Plan("convolution forward \(chosen)\(postOps) [\(context.implementation(pd))]", pd: pd,
                    edges: edges, cacheable: inference ? [DNNL_ARG_WEIGHTS] : [])
    }

    static func backwardData(_ g: ConvGeometry, bfloat16: Bool, algorithm: ConvAlgorithm) -> Plan {
        let context = DNNLContext.shared
        let plain = Descs(g, any: false)
        // diff_src stays f32; diff_dst and weights are bf16 (the hint must match those types).
        let (pd, chosen) = makeDesc(
            g, algorithm, lowPrecision: bfloat16 ? [.destination, .weight] : [],
            hint: { forwardDesc(g, bias: false, bfloat16: bfloat16, algorithm: $0,
                                lowPrecision: [.source, .weight, .destination]).pd },
            "convolution backward data") { d, kind, op in
            dnnlCheck(dnnl_dilated_convolution_backward_data_desc_init(
                &op, kind, &d.source, &d.weight, &d.destination, d.strides,
                d.dilations, d.padding, d.padding), "convolution_backward_data_desc_init \(g)")
        }
        defer { dnnl_primitive_desc_destroy(pd) }
        let edges: [(arg: Int32, edge: Edge)] = [
            (DNNL_ARG_DIFF_DST, Edge(.input, plain: plain.destination,
                                     chosen: context.query(pd, dnnl_query_diff_dst_md, "conv bwd data"),
                                     "conv bwd data diff_dst")),
            (DNNL_ARG_WEIGHTS, Edge(.input, plain: plain.weight,
                                    chosen: context.query(pd, dnnl_query_weights_md, "conv bwd data"),
                                    "conv bwd data weights")),
            (DNNL_ARG_DIFF_SRC, Edge(.output, plain: plain.source,
                                     chosen: context.query(pd, dnnl_query_diff_src_md, "conv bwd data"),
                                     "conv bwd data diff_src")),
        ]
        return Plan("convolution backward data \(chosen) [\(context.implementation(pd))]", pd: pd,
                    edges: edges)
    }

    static func backwardWeights(_ g: ConvGeometry, bias: Bool, bfloat16: Bool,
                                algorithm: ConvAlgorithm) -> Plan {
        let context = DNNLContext.shared
        let plain = Descs(g, any: false)
        // diff_weights stay f32; source and diff_dst are bf16.
        let (pd, chosen) = makeDesc(
            g, algorithm, lowPrecision: bfloat16 ? [.source, .destination] : [],
            hint: { forwardDesc(g, bias: bias, bfloat16: bfloat16, algorithm: $0,
                                lowPrecision: [.source, .weight, .destination]).pd },
            "convolution backward weights") { d, kind, op in
            withUnsafePointer(to: d.bias) { biasDesc in
                dnnlCheck(dnnl_dilated_convolution_backward_weights_desc_init(
                    &op, kind, &d.source, &d.weight, bias ? biasDesc : nil,
                    &d.destination, d.strides, d.dilations, d.padding, d.padding),
                    "convolution_backward_weights_desc_init \(g)")
            }
        }
        defer { dnnl_primitive_desc_destroy(pd) }
        var edges: [(arg: Int32, edge: Edge)] = [
            (DNNL_ARG_SRC, Edge(.input, plain: plain.source,
                                chosen: context.query(pd, dnnl_query_src_md, "conv bwd weights"),
                                "conv bwd weights src")),
            (DNNL_ARG_DIFF_DST, Edge(.input, plain: plain.destination,
                                     chosen: context.query(pd, dnnl_query_diff_dst_md,
                                                           "conv bwd weights"),
                                     "conv bwd weights diff_dst")),
            (DNNL_ARG_DIFF_WEIGHTS, Edge(.output, plain: plain.weight,
                                         chosen: context.query(pd, dnnl_query_diff_weights_md,
                                                               "conv bwd weights"),
                                         "conv bwd weights diff_weights")),
        ]
        if bias {
            edges.append((DNNL_ARG_DIFF_BIAS,
                           Edge(.output, plain: plain.bias, "conv bwd weights diff_bias")))
        }
        return Plan("convolution backward weights \(chosen) [\(context.implementation(pd))]",
                    pd: pd, edges: edges)
    }
}

/// Identifies the contents of an operand a plan may keep a reordered copy of: the owner's
/// storage identity, the element offset in it, and the storage's version (bumped by in-place
/// writes). Equal values mean equal contents.
public struct OperandVersion: Hashable, Sendable {
    /// The owning storage's process-unique identity.
    public var identity: UInt64
    /// The operand's first element in that storage.
    public var offset: Int
    /// The storage's mutation count when the operand was read.
    public var version: UInt64

    /// Creates an operand version.
    public init(identity: UInt64, offset: Int, version: UInt64) {
        self.identity = identity
        self.offset = offset
        self.version = version
    }
}

/// The convolution algorithm a plan was built for.
enum ConvAlgorithm: Hashable, Sendable { case direct, winograd }
