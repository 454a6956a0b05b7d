/// Torchvision's `transforms.functional` for `Image`s: each transform's deterministic core, with
/// its parameters given rather than drawn. The random transforms draw their parameters and call
/// these. Results follow torchvision on PIL images (and so Pillow's arithmetic) on 8-bit images;
/// 16-bit images go through the same steps at their own depth.
public enum ImageFunctional {}
