import Foundation

/// A pickle virtual machine that only builds data.
///
/// It implements the opcodes a `torch.save`d state_dict uses (protocols 0–5) and
/// resolves globals only through `TorchGlobal.resolve`, so a hostile pickle can
/// at most produce an error. Every length is checked against the bytes left in
/// the input, and the stack and memo grow by at most one entry per opcode. Work that
/// is not one opcode's worth (building a dict from a memoized list, hashing a nested tuple,
/// re-encoding a memoized string) is charged to `budget`, proportional to the pickle's length:
/// through the memo, a few bytes can otherwise repeat a large construction endlessly.
struct Unpickler {
    var arena = PickleArena()
    private var stack: [PickleValue] = []
    private var marks: [Int] = []
    private var memo: [Int: PickleValue] = [:]
    /// Elements the current pickle may still build or hash beyond its opcodes.
    var budget = 0

    /// Budget per byte of input: a real state_dict builds each thing once, far below this.
    static let budgetPerByte = 64

    /// Far above anything a real checkpoint needs; stops pathological inputs early.
    private static let maxStack = 1 << 22
    private static let maxMemo = 1 << 22

    /// Reads one pickle starting at `reader.position` and leaves the reader just after its STOP.
    mutating func load(_ reader: inout ByteReader) throws(ParseError) -> PickleValue {
        stack.removeAll()
        marks.removeAll()
        memo.removeAll()
        budget = Self.budgetPerByte * reader.remaining + (1 << 16)
        while true {
            let op = try reader.u8()
            if op == 0x2E { // STOP
                guard stack.count == 1, marks.isEmpty else {
                    throw .corrupt("pickle ends with \(stack.count) values on its stack")
                }
                return stack.removeLast()
            }
            try execute(op, &reader)
            guard stack.count <= Self.maxStack, memo.count <= Self.maxMemo else {
                throw .corrupt("pickle needs an implausibly large stack or memo")
            }
        }
    }

    // MARK: - Stack helpers

    private mutating func pop() throws(ParseError) -> PickleValue {
        guard let value = stack.popLast(), stack.count >= (marks.last ?? 0) else {
            throw .corrupt("pickle pops from an empty stack")
        }
        return value
    }

    private mutating func popMark() throws(ParseError) -> [PickleValue] {
        guard let mark = marks.popLast(), mark <= stack.count else {
            throw .corrupt("pickle uses a MARK that was never set")
        }
        let items = Array(stack[mark...])
        stack.removeSubrange(mark...)
        return items
    }

    private func top() throws(ParseError) -> PickleValue {
        guard let value = stack.last, stack.count > (marks.last ?? 0) else {
            throw .corrupt("pickle reads from an empty stack")
        }
        return value
    }

    private mutating func push(_ value: PickleValue) { stack.append(value) }

    private func memoGet(_ index: Int) throws(ParseError) -> PickleValue {
        guard let value = memo[index] else { throw .corrupt("pickle refers to memo entry \(index) that was never stored") }
        return value
    }

    private mutating func memoPut(_ index: Int) throws(ParseError) {
        memo[index] = try top()
    }

    // MARK: - Opcodes

    private mutating func execute(_ op: UInt8, _ r: inout ByteReader) throws(ParseError) {
        switch op {
        case 0x80: _ = try r.u8()                                   // PROTO
        case 0x95: _ = try r.u64()                                  // FRAME: framing is advisory
        case 0x28: marks.append(stack.count)                        // MARK
        case 0x30: _ = try pop()                                    // POP
        case 0x31: _ = try popMark()                                // POP_MARK
        case 0x32: push(try top())                                  // DUP
        case 0x4E: push(.none)                                      // NONE
        case 0x88: push(.bool(true))                                // NEWTRUE
        case 0x89: push(.bool(false))                               // NEWFALSE
        case 0x4A: push(.int(Int(try r.i32())))                     // BININT
        case 0x4B: push(.int(Int(try r.u8())))                      // BININT1
        case 0x4D: push(.int(Int(try r.u16())))                     // BININT2
        case 0x49: push(try Self.textInt(try r.line()))             // INT
        case 0x4C: push(try Self.textLong(try r.line()))            // LONG
        case 0x8A: push(try Self.binaryLong(&r, width: Int(try r.u8())))   // LONG1
        case 0x8B:                                                  // LONG4
            let n = Int(try r.i32())
            guard n >= 0 else { throw .corrupt("pickle LONG4 has a negative length") }
            push(try Self.binaryLong(&r, width: n))
        case 0x47: push(.float(try r.f64BigEndian()))               // BINFLOAT
        case 0x46:                                                  // FLOAT
            let text = decodeText(try r.line())
            guard let d = Double(text) else { throw .corrupt("pickle FLOAT '\(text.prefix(40))' is not a number") }
            push(.float(d))
        case 0x58: push(.string(decodeText(try r.slice(try Self.length32(&r)))))       // BINUNICODE
        case 0x8C: push(.string(decodeText(try r.slice(Int(try r.u8())))))            // SHORT_BINUNICODE
        case 0x8D: push(.string(decodeText(try r.slice(try Self.length64(&r)))))       // BINUNICODE8
        case 0x56: push(.string(Self.rawUnicodeEscape(try r.line())))                 // UNICODE
        // Python 2 `str`; torch.load decodes these as UTF-8 text too.
        case 0x55: push(.string(decodeText(try r.slice(Int(try r.u8())))))            // SHORT_BINSTRING
        case 0x54:                                                                     // BINSTRING
            let n = Int(try r.i32())
            guard n >= 0 else { throw .corrupt("pickle BINSTRING has a negative length") }
            push(.string(decodeText(try r.slice(n))))
        case 0x43: push(.bytes(Array(try r.slice(Int(try r.u8())))))                  // SHORT_BINBYTES
        case 0x42: push(.bytes(Array(try r.slice(try Self.length32(&r)))))            // BINBYTES
        case 0x8E, 0x96: push(.bytes(Array(try r.slice(try Self.length64(&r)))))      // BINBYTES8, BYTEARRAY8
        case 0x29: push(arena.tuple([]))                            // EMPTY_TUPLE
        case 0x74: push(arena.tuple(try popMark()))                 // TUPLE
        case 0x85: push(arena.tuple([try pop()]))                   // TUPLE1
        case 0x86:                                                  // TUPLE2
            let b = try pop(), a = try pop()
            push(arena.tuple([a, b]))
        case 0x87:                                                  // TUPLE3
            let c = try pop(), b = try pop(), a = try pop()
            push(arena.tuple([a, b, c]))
        case 0x5D: push(arena.list([]))                             // EMPTY_LIST
        case 0x6C: push(arena.list(try popMark()))                  // LIST
        case 0x8F: push(arena.list([]))                             // EMPTY_SET (kept as a list)
        case 0x91: push(arena.list(try popMark()))                  // FROZENSET
        case 0x61: try append([try pop()])                          // APPEND
        case 0x65, 0x90: try append(try popMark())                  // APPENDS, ADDITEMS
        case 0x7D: push(arena.dict())                               // EMPTY_DICT
        case 0x64:                                                  // DICT
            let items = try popMark()
            push(arena.dict())
            try setItems(items)
        case 0x73:                                                  // SETITEM
            let value = try pop(), key = try pop()
            try setItems([key, value])
        case 0x75: try setItems(try popMark())                      // SETITEMS
        case 0x71: try memoPut(Int(try r.u8()))                     // BINPUT
        case 0x72: try memoPut(Int(try r.u32()))                    // LONG_BINPUT
        case 0x70: try memoPut(try Self.textIndex(try r.line()))    // PUT
        case 0x94: try memoPut(memo.count)                          // MEMOIZE
        case 0x68: push(try memoGet(Int(try r.u8())))               // BINGET
        case 0x6A: push(try memoGet(Int(try r.u32())))              // LONG_BINGET
        case 0x67: push(try memoGet(try Self.textIndex(try r.line())))   // GET
        case 0x63:                                                  // GLOBAL
            let module = decodeText(try r.line()), name = decodeText(try r.line())
            push(.global(try TorchGlobal.resolve(module: module, name: name)))
        case 0x93:                                                  // STACK_GLOBAL
            let name = try pop(), module = try pop()
            guard case .string(let n) = name, case .string(let m) = module else {
                throw .corrupt("pickle STACK_GLOBAL operands are not strings")
            }
            push(.global(try TorchGlobal.resolve(module: m, name: n)))
        case 0x52:                                                  // REDUCE
            let args = try pop(), callable = try pop()
            push(try call(callable, args: args))
        case 0x81:                                                  // NEWOBJ
            let args = try pop(), cls = try pop()
            push(try newObject(cls, args: args))
        case 0x92:                                                  // NEWOBJ_EX
            _ = try pop()
            let args = try pop(), cls = try pop()
            push(try newObject(cls, args: args))
        case 0x69:                                                  // INST
            let module = decodeText(try r.line()), name = decodeText(try r.line())
            let global = try TorchGlobal.resolve(module: module, name: name)
            let args = arena.tuple(try popMark())
            push(try call(.global(global), args: args))
        case 0x6F:                                                  // OBJ
            var items = try popMark()
            guard !items.isEmpty else { throw .corrupt("pickle OBJ without a class") }
            let cls = items.removeFirst()
            push(try call(cls, args: arena.tuple(items)))
        case 0x62:                                                  // BUILD
            let state = try pop()
            try build(on: try top(), state: state)
        case 0x51:                                                  // BINPERSID
            push(try persistentLoad(try pop()))
        case 0x50:                                                  // PERSID
            throw ParseError(.unsupported, "pickle uses a text persistent id, which torch.save never writes")
        case 0x82, 0x83, 0x84:
            throw ParseError(.unsupported, "pickle uses the copyreg extension registry (EXT opcodes), which a state_dict never needs")
        case 0x97, 0x98:
            throw ParseError(.unsupported, "pickle uses out-of-band buffers (protocol 5), which a file cannot carry")
        case 0x53:
            throw ParseError(.unsupported, "pickle uses protocol-0 quoted strings; re-save the checkpoint with torch.save (protocol 2)")
        default:
            throw .corrupt(String(format: "unknown pickle opcode 0x%02x at byte %d", op, r.position - 1))
        }
    }

    private mutating func append(_ items: [PickleValue]) throws(ParseError) {
        guard case .list(let i) = try top() else {
            throw .corrupt("pickle appends to a \(try top().typeName), not a list")
        }
        arena.lists[i].append(contentsOf: items)
    }

    private mutating func setItems(_ items: [PickleValue]) throws(ParseError) {
        guard items.count % 2 == 0 else { throw .corrupt("pickle SETITEMS with an odd number of values") }
        guard case .dict(let d) = try top() else {
            throw .corrupt("pickle sets items on a \(try top().typeName), not a dict")
        }
        var i = 0
        while i < items.count {
            let hashKey = try arena.hashKey(items[i], budget: &budget)
            arena.dicts[d].set(items[i], items[i + 1], hashKey: hashKey)
            i += 2
        }
    }

    /// BUILD sets instance state. The only instances we create are dicts, whose state
    /// is e.g. OrderedDict's `_metadata` (per-module versions), which Gantry does not need.
    private func build(on object: PickleValue, state: PickleValue) throws(ParseError) {
        guard case .dict = object else {
            throw ParseError(.unsupported, "pickle sets state on a \(object.typeName), which a state_dict never does")
        }
    }

    /// Takes `units` from the budget, failing once a pickle does far more work than its size explains.
    mutating func charge(_ units: Int) throws(ParseError) {
        budget -= units
        if budget < 0 { throw Self.overBudget }
    }

    static let overBudget = ParseError.corrupt("pickle builds far more data than its size explains (repeated memo references: a hostile or damaged file)")

    private mutating func newObject(_ cls: PickleValue, args: PickleValue) throws(ParseError) -> PickleValue {
        guard case .global(.orderedDict) = cls else {
            throw ParseError(.unsupported, "pickle instantiates \(cls.typeName) with NEWOBJ; only OrderedDict is supported")
        }
        return arena.dict()
    }

    // MARK: - Argument decoding

    private static func length32(_ r: inout ByteReader) throws(ParseError) -> Int { Int(try r.u32()) }

    private static func length64(_ r: inout ByteReader) throws(ParseError) -> Int {
        let n = try r.u64()
        guard n <= UInt64(r.remaining) else { throw .truncated(r.what) }
        return Int(n)
    }
}
