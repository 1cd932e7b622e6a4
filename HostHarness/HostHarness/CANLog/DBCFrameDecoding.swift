// CANFrame in, DBCDecoder out: the overload the harness and the tests use (DBC/ itself stays free
// of HAL, because `make codegen` compiles it stand-alone).
import HAL

extension DBCDecoder {
    /// Decodes `frame` through the DBC (see `decode(id:extended:isFD:isRemote:data:previousCounter:)`).
    public func decode(_ frame: CANFrame, previousCounter: Int? = nil) throws(DBCDecodeError) -> DBCDecodedMessage {
        var isFD = false, isRemote = false
        switch frame.format {
        case .classic: break
        case .classicRemote: isRemote = true
        case .fd: isFD = true
        }
        let data = isRemote ? [] : (0..<frame.length).map { frame[$0] }
        return try decode(id: frame.id.rawValue, extended: frame.id.isExtended, isFD: isFD, isRemote: isRemote, data: data,
                          previousCounter: previousCounter)
    }
}
