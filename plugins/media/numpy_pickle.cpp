#include "numpy_pickle.hpp"

#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <ATen/ATen.h>

#include "mmdebias/sdk/data.hpp"

namespace mmdebias::media_plugin {
namespace {

// What the stack holds: the few kinds numpy's pickles use.
struct Value {
  enum Kind { None, Bool, Int, Str, Bytes, Tuple, Global, Array, Dtype, Mark } kind = None;
  int64_t i = 0;
  std::string s;                             // Str, Bytes, Global ("module.name"), Dtype's descr ("f4")
  std::vector<std::shared_ptr<Value>> items; // Tuple
  // Array
  std::vector<int64_t> shape;
  std::shared_ptr<Value> dtype;
  bool fortran = false, built = false;
  std::string data;
  char endian = '<';                         // Dtype
};
using Ptr = std::shared_ptr<Value>;

Ptr make(Value::Kind kind) {
  auto v = std::make_shared<Value>();
  v->kind = kind;
  return v;
}

class Reader {
 public:
  Reader(std::string bytes, std::string file) : in_(std::move(bytes)), file_(std::move(file)) {}

  Ptr run() {
    while (true) {
      const auto op = static_cast<unsigned char>(take(1)[0]);
      switch (op) {
        case 0x80: take(1); break;                       // PROTO
        case 0x95: take(8); break;                       // FRAME
        case 'c': {                                      // GLOBAL
          const std::string module = line(), name = line();
          push(global(module + "." + name));
          break;
        }
        case 0x93: {                                     // STACK_GLOBAL
          const Ptr name = pop(), module = pop();
          if (module->kind != Value::Str || name->kind != Value::Str) fail("STACK_GLOBAL of a non-string");
          push(global(module->s + "." + name->s));
          break;
        }
        case 0x8c: push(text(Value::Str, uint(1))); break;   // SHORT_BINUNICODE
        case 'X': push(text(Value::Str, uint(4))); break;    // BINUNICODE
        case 0x8d: push(text(Value::Str, uint(8))); break;   // BINUNICODE8
        case 'U': push(text(Value::Str, uint(1))); break;    // SHORT_BINSTRING (Python 2)
        case 'T': push(text(Value::Str, uint(4))); break;    // BINSTRING (Python 2)
        case 'C': push(text(Value::Bytes, uint(1))); break;  // SHORT_BINBYTES
        case 'B': push(text(Value::Bytes, uint(4))); break;  // BINBYTES
        case 0x8e: push(text(Value::Bytes, uint(8))); break; // BINBYTES8
        case 0x96: push(text(Value::Bytes, uint(8))); break; // BYTEARRAY8
        case 0x94: memo_[static_cast<int64_t>(memo_.size())] = top(); break;  // MEMOIZE
        case 'q': memo_[uint(1)] = top(); break;             // BINPUT
        case 'r': memo_[uint(4)] = top(); break;             // LONG_BINPUT
        case 'h': push(get(uint(1))); break;                 // BINGET
        case 'j': push(get(uint(4))); break;                 // LONG_BINGET
        case '(': push(make(Value::Mark)); break;            // MARK
        case 't': push(tuple_to_mark()); break;              // TUPLE
        case ')': push(make(Value::Tuple)); break;           // EMPTY_TUPLE
        case 0x85: case 0x86: case 0x87: push(tuple_of(op - 0x84)); break;  // TUPLE1..3
        case 'K': push(integer(static_cast<int64_t>(uint(1)))); break;      // BININT1
        case 'M': push(integer(static_cast<int64_t>(uint(2)))); break;      // BININT2
        case 'J': push(integer(static_cast<int32_t>(uint(4)))); break;      // BININT
        case 0x8a: push(integer(long1())); break;            // LONG1
        case 'N': push(make(Value::None)); break;
        case 0x88: case 0x89: {                              // NEWTRUE, NEWFALSE
          Ptr b = make(Value::Bool);
          b->i = op == 0x88;
          push(b);
          break;
        }
        case 'R': reduce(); break;
        case 'b': build(); break;
        case '.': return pop();                              // STOP
        default: fail("opcode 0x" + hex(op) + " at byte " + std::to_string(pos_ - 1) + " is not one numpy writes for an array");
      }
    }
  }

  [[noreturn]] void fail(const std::string& what) const { throw sdk::DataError(file_ + ": not a pickled numpy array: " + what); }

 private:
  static std::string hex(unsigned v) {
    const char* d = "0123456789abcdef";
    return {d[v >> 4], d[v & 15]};
  }
  std::string take(uint64_t n) {
    if (n > in_.size() - pos_) fail("it ends early (a value runs past the end of the file)");
    std::string out = in_.substr(pos_, n);
    pos_ += n;
    return out;
  }
  uint64_t uint(int bytes) {
    const std::string b = take(static_cast<uint64_t>(bytes));
    uint64_t v = 0;
    for (int k = bytes - 1; k >= 0; --k) v = (v << 8) | static_cast<unsigned char>(b[static_cast<size_t>(k)]);
    return v;
  }
  int64_t long1() {
    const uint64_t n = uint(1);
    if (n > 8) fail("an integer of " + std::to_string(n) + " bytes");
    const std::string b = take(n);
    uint64_t v = 0;
    for (size_t k = n; k-- > 0;) v = (v << 8) | static_cast<unsigned char>(b[k]);
    if (n > 0 && n < 8 && (static_cast<unsigned char>(b[n - 1]) & 0x80)) v |= ~uint64_t{0} << (8 * n);  // sign
    return static_cast<int64_t>(v);
  }
  std::string line() {
    const size_t end = in_.find('\n', pos_);
    if (end == std::string::npos) fail("a GLOBAL name without its end of line");
    std::string out = in_.substr(pos_, end - pos_);
    pos_ = end + 1;
    return out;
  }
  Ptr text(Value::Kind kind, uint64_t n) {
    Ptr v = make(kind);
    v->s = take(n);
    return v;
  }
  Ptr integer(int64_t i) {
    Ptr v = make(Value::Int);
    v->i = i;
    return v;
  }
  Ptr global(const std::string& name) {
    Ptr v = make(Value::Global);
    v->s = name;
    return v;
  }
  void push(Ptr v) {
    if (stack_.size() > (1u << 16)) fail("a stack deeper than an array's pickle needs");
    stack_.push_back(std::move(v));
  }
  Ptr pop() {
    if (stack_.empty() || stack_.back()->kind == Value::Mark) fail("an operation with too few values");
    Ptr v = stack_.back();
    stack_.pop_back();
    return v;
  }
  Ptr top() {
    if (stack_.empty()) fail("MEMOIZE of an empty stack");
    return stack_.back();
  }
  Ptr get(uint64_t key) {
    auto it = memo_.find(static_cast<int64_t>(key));
    if (it == memo_.end()) fail("a memo entry read before it was written");
    return it->second;
  }
  Ptr tuple_of(int n) {
    Ptr t = make(Value::Tuple);
    t->items.resize(static_cast<size_t>(n));
    for (int k = n - 1; k >= 0; --k) t->items[static_cast<size_t>(k)] = pop();
    return t;
  }
  Ptr tuple_to_mark() {
    Ptr t = make(Value::Tuple);
    while (!stack_.empty() && stack_.back()->kind != Value::Mark) {
      t->items.insert(t->items.begin(), stack_.back());
      stack_.pop_back();
    }
    if (stack_.empty()) fail("TUPLE without its MARK");
    stack_.pop_back();
    return t;
  }
  static bool is(const Ptr& callable, const char* tail) {
    const std::string& n = callable->s;  // numpy 1.x "numpy.core.", 2.x "numpy._core."
    return n == std::string("numpy.core.") + tail || n == std::string("numpy._core.") + tail;
  }
  std::vector<int64_t> shape_of(const Ptr& t) {
    if (t->kind != Value::Tuple) fail("a shape that is not a tuple");
    std::vector<int64_t> shape;
    for (const auto& d : t->items) {
      if (d->kind != Value::Int || d->i < 0) fail("a shape of non-negative integers expected");
      shape.push_back(d->i);
    }
    return shape;
  }
  void reduce() {
    const Ptr args = pop(), callable = pop();
    if (callable->kind != Value::Global || args->kind != Value::Tuple) fail("REDUCE of something other than a named function");
    const auto& a = args->items;
    if (is(callable, "multiarray._reconstruct")) {
      push(make(Value::Array));  // filled by BUILD
    } else if (callable->s == "numpy.dtype") {
      if (a.empty() || a[0]->kind != Value::Str) fail("numpy.dtype without its type string");
      Ptr d = make(Value::Dtype);
      d->s = a[0]->s;
      push(d);
    } else if (callable->s == "_codecs.encode") {  // protocol 2's bytes: a latin-1 string, here UTF-8 encoded
      if (a.empty() || a[0]->kind != Value::Str) fail("_codecs.encode without its string");
      Ptr b = make(Value::Bytes);
      const std::string& u = a[0]->s;
      for (size_t k = 0; k < u.size(); ++k) {
        const auto c = static_cast<unsigned char>(u[k]);
        if (c < 0x80) b->s += static_cast<char>(c);
        else if ((c == 0xc2 || c == 0xc3) && k + 1 < u.size()) b->s += static_cast<char>(((c & 0x03) << 6) | (static_cast<unsigned char>(u[++k]) & 0x3f));
        else fail("bytes encoded outside latin-1");
      }
      push(b);
    } else if (is(callable, "numeric._frombuffer")) {  // protocol 5: (buffer, dtype, shape, order)
      if (a.size() != 4 || a[0]->kind != Value::Bytes || a[1]->kind != Value::Dtype || a[3]->kind != Value::Str) fail("_frombuffer's arguments");
      Ptr arr = make(Value::Array);
      arr->data = a[0]->s;
      arr->dtype = a[1];
      arr->shape = shape_of(a[2]);
      arr->fortran = a[3]->s == "F";
      arr->built = true;
      push(arr);
    } else {
      fail("it holds " + callable->s + "(...), not a numpy array (save the array alone: pickle.dump(array) or np.save)");
    }
  }
  void build() {
    const Ptr state = pop(), object = top();
    if (state->kind != Value::Tuple) fail("BUILD with a state that is not a tuple");
    const auto& s = state->items;
    if (object->kind == Value::Dtype) {
      if (s.size() > 1 && s[1]->kind == Value::Str && s[1]->s.size() == 1) object->endian = s[1]->s[0];
    } else if (object->kind == Value::Array) {  // (version, shape, dtype, is_fortran, data)
      if (s.size() != 5 || s[2]->kind != Value::Dtype || s[3]->kind != Value::Bool ||
          (s[4]->kind != Value::Bytes && s[4]->kind != Value::Str))
        fail("an ndarray state other than (version, shape, dtype, fortran, data)");
      object->shape = shape_of(s[1]);
      object->dtype = s[2];
      object->fortran = s[3]->i != 0;
      object->data = s[4]->s;
      object->built = true;
    } else {
      fail("BUILD of something other than an array or a dtype");
    }
  }

  std::string in_, file_;
  size_t pos_ = 0;
  std::vector<Ptr> stack_;
  std::map<int64_t, Ptr> memo_;
};

}  // namespace

at::Tensor read_numpy_pickle(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw sdk::DataError(file.string() + ": cannot open it");
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  Reader reader(std::move(bytes), file.string());
  const Ptr a = reader.run();
  if (a->kind != Value::Array || !a->built || !a->dtype) reader.fail("the pickled object is not a numpy array");
  if (a->fortran) reader.fail("a Fortran-ordered array; pickle np.ascontiguousarray(x)");
  const std::string& d = a->dtype->s;
  const std::map<std::string, at::ScalarType> types = {{"f2", at::kHalf}, {"f4", at::kFloat}, {"f8", at::kDouble},
                                                        {"i4", at::kInt},  {"i8", at::kLong},  {"u1", at::kByte},
                                                        {"b1", at::kBool}};
  auto type = types.find(d);
  if (type == types.end()) reader.fail("dtype '" + d + "' (read: float16/32/64, int32/64, uint8, bool)");
  if (a->dtype->endian == '>') reader.fail("a big-endian array");
  int64_t numel = 1;
  for (int64_t dim : a->shape)
    if (__builtin_mul_overflow(numel, dim, &numel)) reader.fail("a shape too large");
  const uint64_t expected = static_cast<uint64_t>(numel) * c10::elementSize(type->second);
  if (numel > (int64_t{1} << 40) || a->data.size() != expected)
    reader.fail("its data holds " + std::to_string(a->data.size()) + " bytes, its shape and dtype need " + std::to_string(expected));
  at::Tensor out = at::empty(a->shape, at::TensorOptions().dtype(type->second));
  if (expected) std::memcpy(out.data_ptr(), a->data.data(), expected);
  return out;
}

}  // namespace mmdebias::media_plugin
