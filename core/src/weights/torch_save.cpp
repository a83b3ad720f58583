#include "weights/torch_save.hpp"

#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <variant>

#include <ATen/ATen.h>
#include <caffe2/serialize/inline_container.h>

#include "common/text.hpp"
#include "mmdebias/core/errors.hpp"

namespace mmdebias::core {
namespace {

struct Value;
using ValuePtr = std::shared_ptr<Value>;
struct Global { std::string module, name; };
struct Mark {};
struct Items { std::vector<ValuePtr> items; };                       // list or tuple
struct Dict { std::vector<std::pair<ValuePtr, ValuePtr>> items; };   // dict or OrderedDict, in order
struct Value {
  std::variant<std::monostate, bool, int64_t, double, std::string, at::Tensor, Global, Mark, Items, Dict> v;
};

ValuePtr make(decltype(Value::v) v) { return std::make_shared<Value>(Value{std::move(v)}); }

at::ScalarType storage_dtype(const std::string& type) {
  static const std::map<std::string, at::ScalarType> table = {
      {"DoubleStorage", at::kDouble}, {"FloatStorage", at::kFloat}, {"HalfStorage", at::kHalf},
      {"BFloat16Storage", at::kBFloat16}, {"LongStorage", at::kLong}, {"IntStorage", at::kInt},
      {"ShortStorage", at::kShort}, {"CharStorage", at::kChar}, {"ByteStorage", at::kByte},
      {"BoolStorage", at::kBool}, {"UntypedStorage", at::kByte}};
  auto it = table.find(type);
  if (it == table.end()) throw InputError("unsupported storage type torch." + type);
  return it->second;
}

/// The pickle opcodes a state dict uses (protocol 2, as torch.save writes, and 4's framing).
class Unpickler {
 public:
  Unpickler(const std::string& bytes, const RecordReader& record) : bytes_(bytes), record_(record) {}

  ValuePtr run() {
    while (true) {
      const unsigned char op = byte();
      switch (op) {
        case 0x80: byte(); break;                                  // PROTO
        case 0x95: take(8); break;                                  // FRAME
        case '.': return pop();                                     // STOP
        case '(': push(make(Mark{})); break;                        // MARK
        case 'N': push(make(std::monostate{})); break;              // NONE
        case 0x88: push(make(true)); break;                         // NEWTRUE
        case 0x89: push(make(false)); break;                        // NEWFALSE
        case 'K': push(make(static_cast<int64_t>(byte()))); break;  // BININT1
        case 'M': push(make(static_cast<int64_t>(le(2)))); break;   // BININT2
        case 'J': push(make(static_cast<int64_t>(static_cast<int32_t>(le(4))))); break;  // BININT
        case 0x8a: push(make(long1())); break;                      // LONG1
        case 'G': push(make(binfloat())); break;                    // BINFLOAT
        case 'X': push(make(take(le(4)))); break;                   // BINUNICODE
        case 0x8c: push(make(take(byte()))); break;                 // SHORT_BINUNICODE
        case 0x8d: push(make(take(le(8)))); break;                  // BINUNICODE8
        case 'c': { std::string m = line(); push(make(Global{m, line()})); break; }  // GLOBAL
        case 0x93: { auto n = pop(); auto m = pop(); push(make(Global{str(m), str(n)})); break; }  // STACK_GLOBAL
        case 'q': memo_[byte()] = top(); break;                     // BINPUT
        case 'r': memo_[le(4)] = top(); break;                      // LONG_BINPUT
        case 0x94: memo_[memo_.size()] = top(); break;              // MEMOIZE
        case 'h': push(memo(byte())); break;                        // BINGET
        case 'j': push(memo(le(4))); break;                         // LONG_BINGET
        case ')': push(make(Items{})); break;                       // EMPTY_TUPLE
        case ']': push(make(Items{})); break;                       // EMPTY_LIST
        case '}': push(make(Dict{})); break;                        // EMPTY_DICT
        case 't': case 'l': push(make(Items{since_mark()})); break; // TUPLE, LIST
        case 0x85: case 0x86: case 0x87: {                          // TUPLE1..3
          Items t;
          t.items.resize(op - 0x84);
          for (size_t i = t.items.size(); i-- > 0;) t.items[i] = pop();
          push(make(std::move(t)));
          break;
        }
        case 'a': { auto v = pop(); items(top()).push_back(v); break; }  // APPEND
        case 'e': { auto vs = since_mark(); auto& l = items(top()); l.insert(l.end(), vs.begin(), vs.end()); break; }  // APPENDS
        case 's': { auto v = pop(); auto k = pop(); dict(top()).emplace_back(k, v); break; }  // SETITEM
        case 'u': {                                                 // SETITEMS
          auto vs = since_mark();
          if (vs.size() % 2) fail("SETITEMS with an odd number of items");
          for (size_t i = 0; i < vs.size(); i += 2) dict(top()).emplace_back(vs[i], vs[i + 1]);
          break;
        }
        case 'b': pop(); break;  // BUILD: only an OrderedDict's _metadata (versions of modules) comes here
        case 'Q': push(persistent(pop())); break;                   // BINPERSID
        case 'R': { auto args = pop(); auto fn = pop(); push(reduce(*fn, items(args))); break; }  // REDUCE
        default: fail("unsupported pickle opcode 0x" + hex(op));
      }
    }
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    throw InputError("at byte " + std::to_string(pos_) + " of data.pkl: " + what +
                     " (state dicts of tensors are supported; save the model's state_dict(), or convert to safetensors)");
  }
  static std::string hex(unsigned v) { const char* d = "0123456789abcdef"; return std::string{d[v >> 4], d[v & 15]}; }
  unsigned char byte() { if (pos_ >= bytes_.size()) fail("truncated pickle"); return static_cast<unsigned char>(bytes_[pos_++]); }
  std::string take(uint64_t n) {
    if (n > bytes_.size() - pos_) fail("truncated pickle");
    std::string s = bytes_.substr(pos_, n);
    pos_ += n;
    return s;
  }
  uint64_t le(int n) { uint64_t v = 0; for (int i = 0; i < n; ++i) v |= static_cast<uint64_t>(byte()) << (8 * i); return v; }
  int64_t long1() {
    const int n = byte();
    if (n > 8) fail("integer wider than 64 bits");
    uint64_t v = le(n);
    if (n > 0 && n < 8 && (v >> (8 * n - 1)) & 1) v |= ~0ull << (8 * n);  // sign-extend
    return static_cast<int64_t>(v);
  }
  double binfloat() { uint64_t v = 0; for (int i = 0; i < 8; ++i) v = (v << 8) | byte(); double d; std::memcpy(&d, &v, 8); return d; }
  std::string line() { auto end = bytes_.find('\n', pos_); if (end == std::string::npos) fail("truncated GLOBAL"); std::string s = bytes_.substr(pos_, end - pos_); pos_ = end + 1; return s; }

  void push(ValuePtr v) { stack_.push_back(std::move(v)); }
  ValuePtr pop() { if (stack_.empty()) fail("stack underflow"); auto v = stack_.back(); stack_.pop_back(); return v; }
  ValuePtr top() { if (stack_.empty()) fail("stack underflow"); return stack_.back(); }
  ValuePtr memo(uint64_t i) { auto it = memo_.find(i); if (it == memo_.end()) fail("unknown memo entry"); return it->second; }
  std::vector<ValuePtr> since_mark() {
    std::vector<ValuePtr> out;
    while (true) {
      auto v = pop();
      if (std::holds_alternative<Mark>(v->v)) break;
      out.insert(out.begin(), v);
    }
    return out;
  }
  std::vector<ValuePtr>& items(const ValuePtr& v) { if (auto* i = std::get_if<Items>(&v->v)) return i->items; fail("expected a tuple or list"); }
  std::vector<std::pair<ValuePtr, ValuePtr>>& dict(const ValuePtr& v) { if (auto* d = std::get_if<Dict>(&v->v)) return d->items; fail("expected a dict"); }
  std::string str(const ValuePtr& v) { if (auto* s = std::get_if<std::string>(&v->v)) return *s; fail("expected a string"); }
  int64_t integer(const ValuePtr& v) { if (auto* i = std::get_if<int64_t>(&v->v)) return *i; fail("expected an integer"); }
  std::vector<int64_t> ints(const ValuePtr& v) { std::vector<int64_t> out; for (const auto& i : items(v)) out.push_back(integer(i)); return out; }

  // ('storage', torch.<T>Storage, key, location, numel): the bytes of data/<key>, as a flat tensor.
  ValuePtr persistent(const ValuePtr& pid) {
    const auto& t = items(pid);
    if (t.size() < 5 || str(t[0]) != "storage") fail("unsupported persistent id");
    const auto* type = std::get_if<Global>(&t[1]->v);
    if (!type) fail("expected a storage type");
    const at::ScalarType dtype = storage_dtype(type->name);
    const std::string key = str(t[2]);
    auto found = storages_.find(key);
    if (found != storages_.end()) return make(found->second);
    const at::Tensor bytes = record_("data/" + key);
    const int64_t numel = bytes.numel() / static_cast<int64_t>(at::elementSize(dtype));
    at::Tensor flat = at::empty({numel}, at::TensorOptions().dtype(dtype));
    std::memcpy(flat.data_ptr(), bytes.data_ptr(), numel * at::elementSize(dtype));
    storages_[key] = flat;
    return make(flat);
  }

  ValuePtr reduce(const Value& fn, std::vector<ValuePtr>& args) {
    const auto* g = std::get_if<Global>(&fn.v);
    if (!g) fail("REDUCE of a non-global");
    const std::string name = g->module + "." + g->name;
    if (name == "collections.OrderedDict") return make(Dict{});
    if (name == "torch._utils._rebuild_tensor_v2" || name == "torch._utils._rebuild_tensor") {
      if (args.size() < 4) fail(name + " with too few arguments");
      const auto* storage = std::get_if<at::Tensor>(&args[0]->v);
      if (!storage) fail("expected a storage");
      const auto size = ints(args[2]), stride = ints(args[3]);
      const int64_t offset = integer(args[1]);
      if (size.size() != stride.size()) fail("a tensor's size and stride differ in length");
      int64_t last = offset, numel = 1;  // the furthest element the view reaches must lie in the storage
      for (size_t i = 0; i < size.size(); ++i) {
        if (size[i] < 0 || stride[i] < 0) fail("negative tensor size or stride");
        int64_t reach = 0;
        if (__builtin_mul_overflow(numel, size[i], &numel) ||
            (size[i] > 0 && (__builtin_mul_overflow(size[i] - 1, stride[i], &reach) || __builtin_add_overflow(last, reach, &last))))
          fail("a tensor's size overflows 64 bits");
      }
      if (offset < 0 || (numel > 0 && last >= storage->numel())) fail("tensor view outside its storage");
      return make(storage->as_strided(size, stride, offset).clone());
    }
    if (name == "torch._utils._rebuild_parameter" || name == "torch._utils._rebuild_parameter_with_state") {
      if (args.empty()) fail(name + " without data");
      return args[0];
    }
    fail("unsupported object " + name);
  }

  const std::string& bytes_;
  const RecordReader& record_;
  size_t pos_ = 0;
  std::vector<ValuePtr> stack_;
  std::map<uint64_t, ValuePtr> memo_;
  std::map<std::string, at::Tensor> storages_;
};

std::string describe(const Value& v) {
  if (std::holds_alternative<at::Tensor>(v.v)) return "tensor";
  if (std::holds_alternative<Dict>(v.v)) return "dict";
  if (std::holds_alternative<Items>(v.v)) return "list";
  if (std::holds_alternative<std::string>(v.v)) return "string";
  return "number";
}

NamedTensors tensors_of(const Dict& dict, const std::string& where) {
  NamedTensors out;
  std::vector<std::string> others;
  for (const auto& [k, v] : dict.items) {
    const auto* name = std::get_if<std::string>(&k->v);
    const auto* tensor = std::get_if<at::Tensor>(&v->v);
    if (name && tensor) out.emplace_back(*name, *tensor);
    else others.push_back((name ? *name : std::string("?")) + " (" + describe(*v) + ")");
  }
  if (!others.empty())
    throw InputError(where + " is not a state dict (a dict of tensors): it holds " + join(others) +
                     "; name the entry that holds the state dict with init.key");
  return out;
}

}  // namespace

bool looks_like_torch_save(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  char head[4] = {};
  return in.read(head, 4) && std::memcmp(head, "PK\x03\x04", 4) == 0;
}

NamedTensors state_dict_from_pickle(const std::string& pickle, const RecordReader& record, const std::string& key) {
  ValuePtr root = Unpickler(pickle, record).run();
  const auto* dict = std::get_if<Dict>(&root->v);
  if (!dict) throw InputError("the saved object is a " + describe(*root) + ", not a dict");
  if (key.empty()) return tensors_of(*dict, "the saved dict");
  std::vector<std::string> keys;
  for (const auto& [k, v] : dict->items) {
    const auto* name = std::get_if<std::string>(&k->v);
    if (!name) continue;
    keys.push_back(*name);
    if (*name != key) continue;
    const auto* inner = std::get_if<Dict>(&v->v);
    if (!inner) throw InputError("its entry '" + key + "' is a " + describe(*v) + ", not a dict of tensors");
    return tensors_of(*inner, "its entry '" + key + "'");
  }
  throw InputError("the saved dict has no entry '" + key + "'; its entries: " + join(keys) + did_you_mean(key, keys));
}

NamedTensors read_torch_save(const std::filesystem::path& file, const std::string& key) {
  const std::string where = file.string();
  try {
    caffe2::serialize::PyTorchStreamReader archive(where);
    auto [data, size] = archive.getRecord("data.pkl");
    const std::string pickle(static_cast<const char*>(data.get()), size);
    const RecordReader record = [&archive](const std::string& name) {
      auto [bytes, n] = archive.getRecord(name);
      at::Tensor t = at::empty({static_cast<int64_t>(n)}, at::kByte);
      std::memcpy(t.data_ptr(), bytes.get(), n);
      return t;
    };
    return state_dict_from_pickle(pickle, record, key);
  } catch (const InputError& e) {
    throw InputError(where + ": " + e.what());
  } catch (const c10::Error& e) {
    throw InputError(where + ": not a readable torch.save archive: " + e.what_without_backtrace());
  }
}

}  // namespace mmdebias::core
