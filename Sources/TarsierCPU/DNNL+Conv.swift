import CDNNL
import Synchronization

// Convolutions let oneDNN choose its layouts (`format_tag_any`, typically nChw16c activations
// and blocked weights) and reorder from and to the caller's plain NCHW/OIHW at the edges: on
// this machine that is up to 4x faster than running on plain layouts (backward weights most).
// The algorithm is direct; Winograd (`dnnl_convolution_auto`) is a possible later option for
// 3x3 kernels, at some cost in accuracy.

extension DNNL {
    /// The convolution passes that compute in bfloat16: operands rounded to bf16, products
    /// accumulated and results returned in Float32 (as PyTorch's CPU autocast). On CPUs with
    /// AVX512-BF16 or AMX this is faster; callers' buffers stay Float32 either way.
    public static var bfloat16Convolutions: ConvolutionPasses {
        get { ConvolutionPasses(rawValue: ConvPlans.bfloat16.load(ordering: .relaxed)) }
        set { ConvPlans.bfloat16.store(newValue.rawValue, ordering: .relaxed) }
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
    public static func conv2dForward(_ g: ConvGeometry, source: UnsafePointer<Float>,
                                     weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
                                     destination: UnsafeMutablePointer<Float>) {
        let half = bfloat16Convolutions.contains(.forward)
        let plan = DNNLContext.shared.plan(.convForward(g, bias: bias != nil, bfloat16: half)) {
            ConvPlans.forward(g, bias: bias != nil, bfloat16: half)
        }
        var bindings = [(DNNL_ARG_SRC, raw(source)), (DNNL_ARG_WEIGHTS, raw(weight)),
                        (DNNL_ARG_DST, raw(destination))]
        if let bias { bindings.append((DNNL_ARG_BIAS, raw(bias))) }
        plan.execute(bindings)
    }

    /// Gradient of a 2-D convolution with respect to its source.
    /// - Parameters:
    ///   - g: The geometry of the forward convolution.
    ///   - destinationGradient: `[batch, outChannels, outHeight, outWidth]`.
    ///   - weight: `[outChannels, inChannels / groups, kernelHeight, kernelWidth]`.
    ///   - sourceGradient: `[batch, inChannels, inHeight, inWidth]`, overwritten.
    public static func conv2dBackwardData(_ g: ConvGeometry,
                                          destinationGradient: UnsafePointer<Float>,
                                          weight: UnsafePointer<Float>,
                                          sourceGradient: UnsafeMutablePointer<Float>) {
        let half = bfloat16Convolutions.contains(.backwardData)
        let plan = DNNLContext.shared.plan(.convBackwardData(g, bfloat16: half)) {
            ConvPlans.backwardData(g, bfloat16: half)
        }
        plan.execute([(DNNL_ARG_DIFF_DST, raw(destinationGradient)),
                      (DNNL_ARG_WEIGHTS, raw(weight)),
                      (DNNL_ARG_DIFF_SRC, raw(sourceGradient))])
    }

    /// Gradients of a 2-D convolution with respect to its weight and bias.
    /// - Parameters:
    ///   - g: The geometry of the forward convolution.
    ///   - source: `[batch, inChannels, inHeight, inWidth]`, the forward input.
    ///   - destinationGradient: `[batch, outChannels, outHeight, outWidth]`.
    ///   - weightGradient: `[outChannels, inChannels / groups, kernelHeight, kernelWidth]`,
    ///     overwritten (not accumulated).
    ///   - biasGradient: `[outChannels]`, overwritten; nil to skip it.
    public static func conv2dBackwardWeights(_ g: ConvGeometry, source: UnsafePointer<Float>,
                                             destinationGradient: UnsafePointer<Float>,
                                             weightGradient: UnsafeMutablePointer<Float>,
                                             biasGradient: UnsafeMutablePointer<Float>?) {
        let hasBias = biasGradient != nil
        let half = bfloat16Convolutions.contains(.backwardWeights)
        let plan = DNNLContext.shared.plan(.convBackwardWeights(g, bias: hasBias, bfloat16: half)) {
            ConvPlans.backwardWeights(g, bias: hasBias, bfloat16: half)
        }
        var bindings = [(DNNL_ARG_SRC, raw(source)), (DNNL_ARG_DIFF_DST, raw(destinationGradient)),
                        (DNNL_ARG_DIFF_WEIGHTS, raw(weightGradient))]
        if let biasGradient { bindings.append((DNNL_ARG_DIFF_BIAS, raw(biasGradient))) }
        plan.execute(bindings)
    }
}

/// A set of convolution passes.
public struct ConvolutionPasses: OptionSet, Sendable, Hashable {
    public let rawValue: Int
    public init(rawValue: Int) { self.rawValue = rawValue }
    public static let forward = ConvolutionPasses(rawValue: 1)
    public static let backwardData = ConvolutionPasses(rawValue: 2)
    public static let backwardWeights = ConvolutionPasses(rawValue: 4)
    public static let all: ConvolutionPasses = [.forward, .backwardData, .backwardWeights]
}

/// Builds the cached convolution plans.
enum ConvPlans {
    /// Lets oneDNN pick blocked layouts; false runs on the plain layouts (for comparison).
    static let preferBlockedLayouts = true
    /// Backing store of `DNNL.bfloat16Convolutions`.
    static let bfloat16 = Atomic<Int>(0)

    /// The operands of a convolution, to choose which run in bf16.
    enum Operand: Hashable { case source, weight, destination }

    /// Plain descriptors of the caller's buffers, and the ones handed to the op descriptor.
    struct Descs {
        var source, weight, bias, destination: dnnl_memory_desc_t
        var strides, dilations, padding: [Int64]

        /// `lowPrecision` makes the operands named in it bf16 (the op descriptor's view only).
        init(_ g: ConvGeometry, any: Bool, lowPrecision: Set<Operand> = []) {
            g.validate()
            let context = DNNLContext.shared
            // Channels-last activations are used as they are (oneDNN runs NHWC natively); NCHW
            // ones are reordered to the blocked layout oneDNN prefers.
            let activation = g.channelsLast ? dnnl_nhwc : (any ? dnnl_format_tag_any : dnnl_nchw)
            func type(_ operand: Operand) -> dnnl_data_type_t {
                lowPrecision.contains(operand) ? dnnl_bf16 : dnnl_f32
            }
            source = context.desc([g.batch, g.inChannels, g.inHeight, g.inWidth], activation, type(.source))
            destination = context.desc([g.batch, g.outChannels, g.outHeight, g.outWidth],
                                       activation, type(.destination))
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

    /// A forward-training primitive descriptor; also the hint the backward passes need.
    static func forwardDesc(_ g: ConvGeometry, bias: Bool, bfloat16: Bool,
                            lowPrecision: Set<Operand> = [.source, .weight]) -> dnnl_primitive_desc_t {
        var d = Descs(g, any: preferBlockedLayouts, lowPrecision: bfloat16 ? lowPrecision : [])
        var op = dnnl_convolution_desc_t()
        withUnsafePointer(to: d.bias) { biasDesc in
            dnnlCheck(dnnl_dilated_convolution_forward_desc_init(
                &op, dnnl_forward_training, dnnl_convolution_direct, &d.source, &d.weight,
                bias ? biasDesc : nil, &d.destination, d.strides, d.dilations, d.padding,
                d.padding), "convolution_forward_desc_init \(g)")
        }
        return DNNLContext.shared.primitiveDesc(&op, "convolution forward \(g)")
    }

    static func forward(_ g: ConvGeometry, bias: Bool, bfloat16: Bool) -> Plan {
        let context = DNNLContext.shared
        let plain = Descs(g, any: false)
        let pd = forwardDesc(g, bias: bias, bfloat16: bfloat16)
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
        return Plan("convolution forward [\(context.implementation(pd))]", pd: pd, edges: edges)
    }

    static func backwardData(_ g: ConvGeometry, bfloat16: Bool) -> Plan {
        let context = DNNLContext.shared
        let plain = Descs(g, any: false)
        // diff_src stays f32; diff_dst and weights are bf16 (the hint must match those types).
        var d = Descs(g, any: preferBlockedLayouts, lowPrecision: bfloat16 ? [.destination, .weight] : [])
        let hint = forwardDesc(g, bias: false, bfloat16: bfloat16, lowPrecision: [.source, .weight, .destination])
        defer { dnnl_primitive_desc_destroy(hint) }
        var op = dnnl_convolution_desc_t()
        dnnlCheck(dnnl_dilated_convolution_backward_data_desc_init(
            &op, dnnl_convolution_direct, &d.source, &d.weight, &d.destination, d.strides,
            d.dilations, d.padding, d.padding), "convolution_backward_data_desc_init \(g)")
        let pd = context.primitiveDesc(&op, hint: hint, "convolution backward data \(g)")
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
        return Plan("convolution backward data [\(context.implementation(pd))]", pd: pd,
                    edges: edges)
    }

    static func backwardWeights(_ g: ConvGeometry, bias: Bool, bfloat16: Bool) -> Plan {
        let context = DNNLContext.shared
        let plain = Descs(g, any: false)
        // diff_weights stay f32; source and diff_dst are bf16.
        var d = Descs(g, any: preferBlockedLayouts, lowPrecision: bfloat16 ? [.source, .destination] : [])
        let hint = forwardDesc(g, bias: bias, bfloat16: bfloat16, lowPrecision: [.source, .weight, .destination])
        defer { dnnl_primitive_desc_destroy(hint) }
        var op = dnnl_convolution_desc_t()
        withUnsafePointer(to: d.bias) { biasDesc in
            dnnlCheck(dnnl_dilated_convolution_backward_weights_desc_init(
                &op, dnnl_convolution_direct, &d.source, &d.weight, bias ? biasDesc : nil,
                &d.destination, d.strides, d.dilations, d.padding, d.padding),
                "convolution_backward_weights_desc_init \(g)")
        }
        let pd = context.primitiveDesc(&op, hint: hint, "convolution backward weights \(g)")
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
        return Plan("convolution backward weights [\(context.implementation(pd))]", pd: pd,
                    edges: edges)
    }
}
