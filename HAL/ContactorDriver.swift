// The contactor driver: coils for main positive, main negative and precharge, with feedback.

/// One of the pack's switching elements. Raw values are stable (CAN, storage).
public enum Contactor: UInt8, Sendable {
    case mainPositive = 0
    case mainNegative = 1
    case precharge = 2
}

/// What a contactor's auxiliary contact reports.
public enum ContactorPosition: UInt8, Sendable {
    case open = 0
    case closed = 1
    /// No feedback available (no auxiliary contact, or the reading failed).
    case unknown = 2
}

/// The feedback of all contactors at one moment.
public struct ContactorFeedback: Equatable, Sendable {
    public var mainPositive: ContactorPosition
    public var mainNegative: ContactorPosition
    public var precharge: ContactorPosition
    public init(mainPositive: ContactorPosition = .unknown, mainNegative: ContactorPosition = .unknown,
                precharge: ContactorPosition = .unknown) {
        self.mainPositive = mainPositive
        self.mainNegative = mainNegative
        self.precharge = precharge
    }
    public subscript(contactor: Contactor) -> ContactorPosition {
        get {
            switch contactor {
            case .mainPositive: return mainPositive
            case .mainNegative: return mainNegative
            case .precharge: return precharge
            }
        }
        set {
            switch contactor {
            case .mainPositive: mainPositive = newValue
            case .mainNegative: mainNegative = newValue
            case .precharge: precharge = newValue
            }
        }
    }
}

/// Drives the contactor coils and reads their feedback.
public protocol ContactorDriver {
    associatedtype Failure: HALFailure

    /// Energises (`closed == true`) or releases a contactor's coil.
    mutating func command(_ contactor: Contactor, closed: Bool) throws(Failure)

    /// The auxiliary-contact feedback of every contactor.
    mutating func feedback() throws(Failure) -> ContactorFeedback
}
