import Foundation

/// JSON values stored in a safetensors file's string metadata (checkpoints and training states),
/// with errors that name the file and the key.
struct MetadataFields {
    let metadata: [String: String]
    let path: String
    /// What the file should be, for the error message ("Tarsier checkpoint").
    let kind: String

    func decode<T: Decodable>(_ key: String, as type: T.Type) throws -> T {
        guard let text = metadata[key] else {
            throw TrainingError.checkpoint("\(path): metadata key '\(key)' is missing; is this a \(kind)?")
        }
        guard let value = try? JSONDecoder().decode(T.self, from: Data(text.utf8)) else {
            throw TrainingError.checkpoint("\(path): metadata key '\(key)' is not valid JSON for \(T.self): \(text.prefix(80))")
        }
        return value
    }
}
