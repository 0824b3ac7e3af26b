// JSON text out: rapidjson's Writer<StringBuffer>, with strings escaped a run at a time.
//
// rapidjson writes a string one character at a time through its escape table (about ten
// instructions a byte). Stored records and API answers are mostly text (rendered reports,
// ticket descriptions, vendor answers), so JsonWriter finds the next character that needs
// escaping 16 bytes at a time and copies the runs between them whole. The output is byte
// for byte what rapidjson::Writer writes (tests/unit/runtime/json_writer_test.cpp).
#pragma once

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <cmath>
#include <cstring>
#include <string>
#include <string_view>

namespace ferry {

// The escape of text (below) written at w, which must have room for 6 * text.size() bytes;
// returns the end.
char* write_json_escaped(char* w, std::string_view text);
// How many bytes write_json_escaped writes for text.
size_t json_escaped_size(std::string_view text);
// Texts longer than this are escaped a block at a time (json_writer.cpp).
constexpr size_t kEscapeBlock = 256;
void append_json_escaped_blocks(rapidjson::StringBuffer& out, std::string_view text);

// Appends text escaped as rapidjson escapes it (no quotes): \" \\ \b \f \n \r \t, other
// control characters as \u00XX, everything else (UTF-8 included) as it is. Inline: most
// strings are keys and short values, written hundreds of times per request.
inline void append_json_escaped(rapidjson::StringBuffer& out, std::string_view text) {
    if (text.size() > kEscapeBlock) return append_json_escaped_blocks(out, text);
    // Room for the worst case (every byte a \u00XX), the unused part given back.
    const size_t room = text.size() * 6;
    char* const start = out.Push(room);
    out.Pop(room - size_t(write_json_escaped(start, text) - start));
}

// A finite double as rapidjson's Writer::Double writes it (shortest round-trip digits,
// "N.0" for integral values), written at w (room for 32 bytes); returns the end. Values
// with at most three decimals (durations in milliseconds, scores, most numbers in records)
// take a fixed-point path: Grisu2 cost ~450 instructions per number.
char* write_json_double(char* w, double v);

// A StringBuffer borrowed for one piece of JSON text and given back cleared: a fresh one
// per record or value was two allocations (RapidJSON's allocator object and its stack) and
// their frees, several times per workflow step. A few are kept per thread; one that grew
// past 64 KiB is freed instead.
class ScratchBuffer {
  public:
    ScratchBuffer();
    ~ScratchBuffer();
    ScratchBuffer(const ScratchBuffer&) = delete;
    ScratchBuffer& operator=(const ScratchBuffer&) = delete;
    rapidjson::StringBuffer& operator*() { return *buffer_; }
    rapidjson::StringBuffer* operator->() { return buffer_; }
    // The text as an exact-size string (a kept buffer's capacity is not handed out).
    std::string text() const { return std::string(buffer_->GetString(), buffer_->GetSize()); }

  private:
    rapidjson::StringBuffer* buffer_;
};

// Compact JSON text of a rapidjson value (JsonWriter).
std::string json_text(const rapidjson::Value& value);

class JsonWriter : public rapidjson::Writer<rapidjson::StringBuffer> {
  public:
    explicit JsonWriter(rapidjson::StringBuffer& out) : Writer(out), out_(out) {}

    // Hide the base class's: handlers are called by name (Document::Accept is a template).
    bool String(const Ch* text, rapidjson::SizeType length, bool copy = false) {
        (void)copy;
        // The base class's bookkeeping (commas, colons) for one string value, then the text.
        if (!RawValue("\"", 1, rapidjson::kStringType)) return false;
        append_json_escaped(out_, std::string_view(text, length));
        out_.Put('"');
        return true;
    }
    bool Key(const Ch* text, rapidjson::SizeType length, bool copy = false) {
        return String(text, length, copy);
    }
    // NUL-terminated, as rapidjson's Writer takes them too.
    bool String(const Ch* text) { return String(text, rapidjson::SizeType(std::strlen(text))); }
    bool Key(const Ch* text) { return String(text, rapidjson::SizeType(std::strlen(text))); }
    bool Double(double d) {
        char buf[32];
        if (!std::isfinite(d)) return Writer::Double(d);  // the base class's refusal
        return RawValue(buf, size_t(write_json_double(buf, d) - buf), rapidjson::kNumberType);
    }

  private:
    rapidjson::StringBuffer& out_;
};

}  // namespace ferry
