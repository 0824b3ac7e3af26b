// YAML streams as documents, without yaml-cpp 0.7's endless LoadAll (loader_internal.h).
#include "workflow/loader_internal.h"

#include <yaml-cpp/depthguard.h>
#include <yaml-cpp/eventhandler.h>

#include <optional>
#include <sstream>

namespace ferry::workflow::detail {

namespace {

// Notes where a document's first node starts and whether it is all the document holds.
class FirstNode final : public YAML::EventHandler {
  public:
    std::optional<size_t> pos;  // of the first node
    bool only_null = true;      // nothing but one null (what an unreadable token gives)

    void OnDocumentStart(const YAML::Mark&) override {}
    void OnDocumentEnd() override {}
    void OnNull(const YAML::Mark& m, YAML::anchor_t) override { note(m, true); }
    void OnAlias(const YAML::Mark& m, YAML::anchor_t) override { note(m, false); }
    void OnScalar(const YAML::Mark& m, const std::string&, YAML::anchor_t,
                  const std::string&) override {
        note(m, false);
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
            FirstNode first;
            if (!parser.HandleNextDocument(first)) break;
            if (first.only_null && first.pos && previous && *first.pos == *previous) {
                YAML::Mark at;  // 0-based, as yaml-cpp's
                at.pos = int(*first.pos);
                for (size_t i = 0; i < *first.pos && i < body.size(); ++i) {
                    at.column = body[i] == '\n' ? 0 : at.column + 1;
                    at.line += body[i] == '\n';
                }
                throw YAML::ParserException(at, "no YAML node can start here");
            }
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
