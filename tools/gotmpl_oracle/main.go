// main.go - the Go oracle for xllm's Go-template dialect: renders templates with
// Go's own text/template, configured as Ollama's template package configures it
// (missingkey=zero, its extra functions, its data and message collation), and
// writes goldens for tests/fixtures/gotemplates/. Standard library only.
//
//	gotmpl_oracle lang CASES.json OUT.json     language table cases
//	gotmpl_oracle chat TEMPLATE_DIR CONV_DIR OUT_DIR   every template x conversation
//
// currentDate/yesterdayDate use SOURCE_DATE_EPOCH (UTC) when set, as xllm does.
package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"text/template"
	"time"
)

func now() time.Time {
	if s := os.Getenv("SOURCE_DATE_EPOCH"); s != "" {
		if n, err := strconv.ParseInt(s, 10, 64); err == nil {
			return time.Unix(n, 0).UTC()
		}
	}
	return time.Now()
}

var funcs = template.FuncMap{
	"json": func(v any) string {
		b, _ := json.Marshal(v)
		return string(b)
	},
	"currentDate": func(args ...string) string {
		return now().Format("2006-01-02")
	},
	"yesterdayDate": func(args ...string) string {
		return now().AddDate(0, 0, -1).Format("2006-01-02")
	},
	"toTypeScriptType": func(v any) string {
		if p, ok := v.(ToolProperty); ok {
			return p.ToTypeScriptType()
		}
		if p, ok := v.(*ToolProperty); ok && p != nil {
			return p.ToTypeScriptType()
		}
		return "any"
	},
}

func parseTemplate(src string) (*template.Template, error) {
	return template.New("").Option("missingkey=zero").Funcs(funcs).Parse(src)
}

// renderData: plain text/template with Ollama's options and functions.
func renderData(src string, data map[string]any) (string, error) {
	t, err := parseTemplate(src)
	if err != nil {
		return "", err
	}
	var b bytes.Buffer
	if err := t.Execute(&b, data); err != nil {
		return "", err
	}
	return b.String(), nil
}

type langCase struct {
	Name string          `json:"name"`
	Tmpl string          `json:"tmpl"`
	Data json.RawMessage `json:"data,omitempty"`
	Chat json.RawMessage `json:"chat,omitempty"`
	Out  *string         `json:"out,omitempty"`
	Err  *string         `json:"err,omitempty"`
}

func runCase(c *langCase) {
	var out string
	var err error
	if len(c.Chat) > 0 {
		out, err = renderChatJSON(c.Tmpl, c.Chat)
	} else {
		data := map[string]any{}
		if len(c.Data) > 0 {
			if err = json.Unmarshal(c.Data, &data); err != nil {
				fatal("%s: data: %v", c.Name, err)
			}
		}
		out, err = renderData(c.Tmpl, data)
	}
	if err != nil {
		s := err.Error()
		c.Err = &s
	} else {
		c.Out = &out
	}
}

func fatal(f string, a ...any) {
	fmt.Fprintf(os.Stderr, "gotmpl_oracle: "+f+"\n", a...)
	os.Exit(1)
}

func main() {
	if len(os.Args) == 4 && os.Args[1] == "lang" {
		raw, err := os.ReadFile(os.Args[2])
		if err != nil {
			fatal("%v", err)
		}
		var cases []langCase
		if err := json.Unmarshal(raw, &cases); err != nil {
			fatal("%s: %v", os.Args[2], err)
		}
		for i := range cases {
			runCase(&cases[i])
		}
		var b bytes.Buffer
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false)
		enc.SetIndent("", " ")
		if err := enc.Encode(cases); err != nil {
			fatal("%v", err)
		}
		if err := os.WriteFile(os.Args[3], b.Bytes(), 0o644); err != nil {
			fatal("%v", err)
		}
		return
	}
	if len(os.Args) == 5 && os.Args[1] == "chat" {
		chatCorpus(os.Args[2], os.Args[3], os.Args[4])
		return
	}
	fatal("usage: gotmpl_oracle lang CASES.json OUT.json | chat TEMPLATE_DIR CONV_DIR OUT_DIR")
}

func chatCorpus(tdir, cdir, odir string) {
	tmpls, _ := filepath.Glob(filepath.Join(tdir, "*.gotmpl"))
	convs, _ := filepath.Glob(filepath.Join(cdir, "*.json"))
	sort.Strings(tmpls)
	sort.Strings(convs)
	for _, tp := range tmpls {
		src, err := os.ReadFile(tp)
		if err != nil {
			fatal("%v", err)
		}
		name := strings.TrimSuffix(filepath.Base(tp), ".gotmpl")
		dir := filepath.Join(odir, name)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			fatal("%v", err)
		}
		for _, cp := range convs {
			chat, err := os.ReadFile(cp)
			if err != nil {
				fatal("%v", err)
			}
			cname := strings.TrimSuffix(filepath.Base(cp), ".json")
			out, err := renderChatJSON(string(src), chat)
			if err != nil {
				os.WriteFile(filepath.Join(dir, cname+".err"), []byte(err.Error()), 0o644)
			} else {
				os.WriteFile(filepath.Join(dir, cname+".txt"), []byte(out), 0o644)
			}
		}
	}
}

// ---- Ollama's chat semantics ----

type chatInput struct {
	Messages []map[string]json.RawMessage `json:"messages"`
	Tools    []Tool                       `json:"tools"`
	Think    json.RawMessage              `json:"think"`
	System   *string                      `json:"system"`
}

type thinkValue struct{ v any }

func (t *thinkValue) Bool() bool {
	if t == nil || t.v == nil {
		return false
	}
	switch v := t.v.(type) {
	case bool:
		return v
	case string:
		return v == "high" || v == "medium" || v == "low"
	}
	return false
}

func (t *thinkValue) String() string {
	if t == nil || t.v == nil {
		return ""
	}
	switch v := t.v.(type) {
	case string:
		return v
	case bool:
		if v {
			return "medium"
		}
	}
	return ""
}

func str(m map[string]json.RawMessage, keys ...string) string {
	for _, k := range keys {
		if raw, ok := m[k]; ok {
			var s string
			if json.Unmarshal(raw, &s) == nil && s != "" {
				return s
			}
		}
	}
	return ""
}

type rawCall struct {
	ID       string `json:"id"`
	Index    *int   `json:"index"`
	Function struct {
		Index     *int            `json:"index"`
		Name      string          `json:"name"`
		Arguments json.RawMessage `json:"arguments"`
	} `json:"function"`
}

func parseArgs(raw json.RawMessage) (*orderedArgs, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		raw = json.RawMessage(s)
	}
	o := &orderedArgs{vals: map[string]any{}}
	dec := json.NewDecoder(bytes.NewReader(raw))
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, fmt.Errorf("tool call arguments: want an object")
	}
	for dec.More() {
		kt, err := dec.Token()
		if err != nil {
			return nil, err
		}
		var v any
		if err := dec.Decode(&v); err != nil {
			return nil, err
		}
		k := kt.(string)
		if _, seen := o.vals[k]; !seen {
			o.keys = append(o.keys, k)
		}
		o.vals[k] = v
	}
	return o, nil
}

func parseCalls(raw json.RawMessage) ([]ToolCall, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var rc []rawCall
	if err := json.Unmarshal(raw, &rc); err != nil {
		return nil, err
	}
	var out []ToolCall
	for _, c := range rc {
		tc := ToolCall{ID: c.ID}
		tc.Function.Name = c.Function.Name
		if c.Function.Index != nil {
			tc.Function.Index = *c.Function.Index
		} else if c.Index != nil {
			tc.Function.Index = *c.Index
		}
		a, err := parseArgs(c.Function.Arguments)
		if err != nil {
			return nil, err
		}
		tc.Function.Arguments = a
		out = append(out, tc)
	}
	return out, nil
}

// toMessages converts the chat's messages as Ollama's API layers do.
func toMessages(in []map[string]json.RawMessage) ([]Message, error) {
	var out []Message
	for i, m := range in {
		role := strings.ToLower(str(m, "role"))
		calls, err := parseCalls(m["tool_calls"])
		if err != nil {
			return nil, err
		}
		toolName := str(m, "tool_name", "name")
		callID := str(m, "tool_call_id")
		if role == "tool" && toolName == "" && callID != "" {
			toolName = nameFromCallID(in[:i], callID)
		}
		thinking := str(m, "thinking", "reasoning_content", "reasoning")
		raw := m["content"]
		var parts []map[string]any
		if len(raw) > 0 && raw[0] == '[' {
			if err := json.Unmarshal(raw, &parts); err != nil {
				return nil, err
			}
			for _, p := range parts {
				if p["type"] != "text" {
					return nil, fmt.Errorf("unsupported content part %v", p["type"])
				}
				t, ok := p["text"].(string)
				if !ok {
					return nil, fmt.Errorf("invalid message format")
				}
				out = append(out, Message{Role: role, Content: t})
			}
			if len(parts) > 0 {
				last := &out[len(out)-1]
				last.ToolCalls, last.ToolName, last.ToolCallID, last.Thinking = calls, toolName, callID, thinking
			}
			continue
		}
		var content string
		if len(raw) > 0 && string(raw) != "null" {
			if err := json.Unmarshal(raw, &content); err != nil {
				return nil, fmt.Errorf("message content: %v", err)
			}
		}
		out = append(out, Message{Role: role, Content: content, Thinking: thinking,
			ToolCalls: calls, ToolName: toolName, ToolCallID: callID})
	}
	return out, nil
}

func nameFromCallID(prev []map[string]json.RawMessage, id string) string {
	for i := len(prev) - 1; i >= 0; i-- {
		calls, _ := parseCalls(prev[i]["tool_calls"])
		for _, c := range calls {
			if c.ID == id {
				return c.Function.Name
			}
		}
	}
	return ""
}

func renderChatJSON(src string, raw []byte) (out string, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic: %v", r)
		}
	}()
	var in chatInput
	if err := json.Unmarshal(raw, &in); err != nil {
		return "", err
	}
	msgs, err := toMessages(in.Messages)
	if err != nil {
		return "", err
	}
	if in.System != nil && *in.System != "" && (len(msgs) == 0 || msgs[0].Role != "system") {
		msgs = append([]Message{{Role: "system", Content: *in.System}}, msgs...)
	}
	var think *thinkValue
	if len(in.Think) > 0 && string(in.Think) != "null" {
		var v any
		if err := json.Unmarshal(in.Think, &v); err != nil {
			return "", err
		}
		think = &thinkValue{v}
	}
	t, err := parseTemplate(src)
	if err != nil {
		return "", err
	}
	return execute(t, msgs, in.Tools, think)
}
