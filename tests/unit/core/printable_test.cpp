// core/printable: text for a terminal, with what would act on it or reorder it unseen
// written as escapes.
#include "core/printable.h"

#include <catch2/catch.hpp>

using ferry::engine::printable;

TEST_CASE("printable: controls and C1 controls are escapes, text stays", "[core][printable]") {
    CHECK(printable("plain caf\xc3\xa9 \xe4\xb8\xad") == "plain caf\xc3\xa9 \xe4\xb8\xad");
    CHECK(printable("a\x1b[31mred\x7f") == "a\\x1B[31mred\\x7F");
    CHECK(printable("csi \xc2\x9b"
                    "31m") == "csi \\x9B31m");
    CHECK(printable("two\nlines\tand tab") == "two\nlines\tand tab");
    CHECK(printable("two\nlines", true) == "two\\nlines");
    CHECK(printable("cr\r") == "cr\\x0D");
}

TEST_CASE("printable: the marks that reorder text unseen are escapes", "[core][printable]") {
    // Overrides, embeddings, isolates and line separators, and the bare marks: LRM and RLM
    // (U+200E, U+200F) and the Arabic letter mark (U+061C) went out raw.
    CHECK(printable("x\xe2\x80\xae"
                    "evil") == "x\\u202Eevil");
    CHECK(printable("\xe2\x81\xa6"
                    "i\xe2\x81\xa9") == "\\u2066i\\u2069");
    CHECK(printable("line\xe2\x80\xa8sep") == "line\\u2028sep");
    CHECK(printable("\xe2\x80\x8e"
                    "l \xe2\x80\x8f"
                    "r \xd8\x9c"
                    "a") == "\\u200El \\u200Fr \\u061Ca");
    // Their neighbours are text: U+200D (ZWJ, in emoji), U+2030, Arabic letters.
    CHECK(printable("\xe2\x80\x8d\xe2\x80\xb0\xd8\xa7") == "\xe2\x80\x8d\xe2\x80\xb0\xd8\xa7");
    // A cut sequence at the end is left as it is.
    CHECK(printable("end\xe2\x80") == "end\xe2\x80");
    CHECK(printable("end\xd8") == "end\xd8");
}
