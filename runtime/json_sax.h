// A RapidJSON SAX handler that passes every event on to the next one. A handler that
// watches or changes some events (a depth cap, repeated keys, numbers read exactly) derives
// from it and defines only those: RapidJSON calls handlers by name, so the derived class's
// functions hide these. Header-only and RapidJSON-only (json_numbers.h uses it).
#pragma once

#include <rapidjson/rapidjson.h>

#include <cstdint>

namespace ferry::json_sax {

template <class Next>
class Forward {
  public:
    explicit Forward(Next& next) : next_(next) {}

    bool Null() { return next_.Null(); }
    bool Bool(bool b) { return next_.Bool(b); }
    bool Int(int i) { return next_.Int(i); }
    bool Uint(unsigned u) { return next_.Uint(u); }
    bool Int64(int64_t i) { return next_.Int64(i); }
    bool Uint64(uint64_t u) { return next_.Uint64(u); }
    bool Double(double d) { return next_.Double(d); }
    bool RawNumber(const char* s, rapidjson::SizeType n, bool copy) {
        return next_.RawNumber(s, n, copy);
    }
    bool String(const char* s, rapidjson::SizeType n, bool copy) {
        return next_.String(s, n, copy);
    }
    bool StartObject() { return next_.StartObject(); }
    bool Key(const char* s, rapidjson::SizeType n, bool copy) { return next_.Key(s, n, copy); }
    bool EndObject(rapidjson::SizeType n) { return next_.EndObject(n); }
    bool StartArray() { return next_.StartArray(); }
    bool EndArray(rapidjson::SizeType n) { return next_.EndArray(n); }

  protected:
    Next& next_;
};

}  // namespace ferry::json_sax
