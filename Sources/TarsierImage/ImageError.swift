/// An error raised while reading, decoding or writing an image file.
public struct ImageError: Error, CustomStringConvertible, Equatable, Sendable {
    /// What went wrong.
    public enum Kind: String, Sendable, Equatable {
        /// The file does not exist or cannot be opened.
        case unreadable
        /// The file has no bytes.
        case empty
        /// The file ends before its image does.
        case truncated
        /// The bytes are not a valid image of the format they claim.
        case corrupt
        /// The file is not a JPEG or PNG, or uses a feature the decoder does not support.
        case unsupported
        /// The declared size exceeds the decoding limits.
        case tooLarge
        /// The image cannot be written.
        case unwritable
    }

    /// What went wrong.
    public var kind: Kind
    /// The file at fault (or a caller-chosen name for in-memory bytes).
    public var file: String
    /// The specifics.
    public var detail: String

    /// Creates an error.
    public init(kind: Kind, file: String, detail: String) {
        self.kind = kind
        self.file = file
        self.detail = detail
    }

    /// A message naming the file and what is wrong with it.
    public var description: String { "'\(file)': \(kind.rawValue) image: \(detail)" }
}
