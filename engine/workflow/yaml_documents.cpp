// YAML streams as documents, without yaml-cpp 0.7's endless LoadAll (loader_internal.h).
#include "workflow/loader_internal.h"

#include <yaml-cpp/depthguard.h>
#include <yaml-cpp/eventhandler.h>

#include <algorithm>
#include <optional>
#include <sstream>

namespace ferry::workflow::detail {

namespace {

// The opening quote of the scalar yaml-cpp marks at `at`, past an anchor or a tag written
// before it (`&m 'x`, `!!str "x"`: the mark is theirs); npos for a scalar that is not quoted.
size_t opening_quote(std::string_view text, size_t at) {
    while (at < text.size() && (text[at] == '&' || text[at] == '!')) {
        at = text.find_first_of(" \t\r\n", at);
        if (at == std::string_view::npos) return at;
        at = text.find_first_not_of(" \t\r\n", at);
        if (at == std::string_view::npos) return at;
    }
    return at < text.size() && (text[at] == '"' || text[at] == '\'') ? at : std::string_view::npos;
}

// Notes where a document's first node starts and whether it is all the document holds, and
// refuses a quoted scalar the end of the file closed: yaml-cpp 0.7 ends one there without a
// word, so `message: 'x` took every line after it as its text, and the steps written there
// were gone.
class FirstNode final : public YAML::EventHandler {
  public:
    explicit FirstNode(std::string_view text) : text_(text) {}
    std::optional<size_t> pos;  // of the first node
    bool only_null = true;      // nothing but one null (what an unreadable token gives)

    void OnDocumentStart(const YAML::Mark&) override {}
    void OnDocumentEnd() override {}
    void OnNull(const YAML::Mark& m, YAML::anchor_t) override { note(m, true); }
    void OnAlias(const YAML::Mark& m, YAML::anchor_t) override { note(m, false); }
    void OnScalar(const YAML::Mark& m, const std::string&, YAML::anchor_t,
                  const std::string&) override {
        note(m, false);
        if (m.pos < 0) return;
        const size_t open = opening_quote(text_, size_t(m.pos));
        if (open != std::string_view::npos && closing_quote(text_, open) == std::string_view::npos)
            throw YAML::ParserException(mark_at(text_, open), kUnclosedQuote);
    }
    void OnSequenceStart(const YAML::Mark& m, const std::string&, YAML::anchor_t,
                         YAML::EmitterStyle::value) override {
        note(m, false);
    }
    void OnSequenceEnd() override {}
    void OnMapStart(const YAML::Mark& m, const std::string&, YAML::anchor_t,
                    YAML::EmitterStyle::value) override {
        note(m, false);
    }
    void OnMapEnd() override {}

  private:
    std::string_view text_;
    void note(const YAML::Mark& m, bool null) {
        if (!pos) pos = size_t(m.pos);
        only_null = only_null && null;
    }
};

}  // namespace

std::vector<YAML::Node> load_yaml_documents(const std::string& body) {
    try {
        std::istringstream in(body);
        YAML::Parser parser(in);
        std::optional<size_t> previous;
        for (;;) {
            FirstNode first(body);
            if (!parser.HandleNextDocument(first)) break;
            if (first.only_null && first.pos && previous && *first.pos == *previous)
                throw YAML::ParserException(mark_at(body, std::min(*first.pos, body.size())),
                                            "no YAML node can start here");
            previous = first.pos;
        }
        return YAML::LoadAll(body);
    } catch (const YAML::DeepRecursion& e) {
        // yaml-cpp's depth guard says "bad file" (the message it passes it).
        throw YAML::ParserException(e.mark, "data nested too deeply for the YAML parser (more "
                                            "than about 500 levels)");
    }
}

}  // namespace ferry::workflow::detail
