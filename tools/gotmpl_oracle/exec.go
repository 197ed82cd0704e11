// exec.go - Ollama's Template.Execute semantics: Vars, the appended {{ .Response }},
// collation of messages, the .Messages path and the legacy System/Prompt/Response
// path with everything after the first {{ .Response }} cut from the last turn.
package main

import (
	"bytes"
	"errors"
	"strings"
	"text/template"
	"text/template/parse"
)

var responseNode = parse.ActionNode{
	NodeType: parse.NodeAction,
	Pipe: &parse.PipeNode{
		NodeType: parse.NodePipe,
		Cmds: []*parse.CommandNode{{
			NodeType: parse.NodeCommand,
			Args:     []parse.Node{&parse.FieldNode{NodeType: parse.NodeField, Ident: []string{"Response"}}},
		}},
	},
}

func identifiers(n parse.Node) ([]string, error) {
	switch n := n.(type) {
	case *parse.ListNode:
		var names []string
		for _, c := range n.Nodes {
			i, err := identifiers(c)
			if err != nil {
				return names, err
			}
			names = append(names, i...)
		}
		return names, nil
	case *parse.TemplateNode:
		if n.Pipe == nil {
			return nil, errors.New("undefined template specified")
		}
		return identifiers(n.Pipe)
	case *parse.ActionNode:
		if n.Pipe == nil {
			return nil, errors.New("undefined action in template")
		}
		return identifiers(n.Pipe)
	case *parse.BranchNode:
		if n.Pipe == nil {
			return nil, errors.New("undefined branch")
		}
		names, err := identifiers(n.Pipe)
		if err != nil {
			return names, err
		}
		for _, l := range []*parse.ListNode{n.List, n.ElseList} {
			if l != nil {
				i, err := identifiers(l)
				if err != nil {
					return names, err
				}
				names = append(names, i...)
			}
		}
		return names, nil
	case *parse.IfNode:
		return identifiers(&n.BranchNode)
	case *parse.RangeNode:
		return identifiers(&n.BranchNode)
	case *parse.WithNode:
		return identifiers(&n.BranchNode)
	case *parse.PipeNode:
		var names []string
		for _, c := range n.Cmds {
			for _, a := range c.Args {
				i, err := identifiers(a)
				if err != nil {
					return names, err
				}
				names = append(names, i...)
			}
		}
		return names, nil
	case *parse.FieldNode:
		return n.Ident, nil
	case *parse.VariableNode:
		return n.Ident, nil
	}
	return nil, nil
}

func vars(t *template.Template) (map[string]bool, error) {
	set := map[string]bool{}
	for _, tt := range t.Templates() {
		if tt.Tree == nil {
			continue
		}
		for _, n := range tt.Root.Nodes {
			v, err := identifiers(n)
			if err != nil {
				return nil, err
			}
			for _, s := range v {
				set[strings.ToLower(s)] = true
			}
		}
	}
	return set, nil
}

func collate(msgs []Message) (string, []*Message) {
	var system []string
	var out []*Message
	for i := range msgs {
		if msgs[i].Role == "system" {
			system = append(system, msgs[i].Content)
		}
		if len(out) > 0 && out[len(out)-1].Role == msgs[i].Role && msgs[i].Role != "tool" {
			out[len(out)-1].Content += "\n\n" + msgs[i].Content
		} else {
			out = append(out, &msgs[i])
		}
	}
	return strings.Join(system, "\n\n"), out
}

func deleteNode(n parse.Node, fn func(parse.Node) bool) parse.Node {
	var walk func(n parse.Node) parse.Node
	walk = func(n parse.Node) parse.Node {
		if fn(n) {
			return nil
		}
		switch t := n.(type) {
		case *parse.ListNode:
			var nodes []parse.Node
			for _, c := range t.Nodes {
				if r := walk(c); r != nil {
					nodes = append(nodes, r)
				}
			}
			t.Nodes = nodes
			return t
		case *parse.IfNode:
			t.BranchNode = *(walk(&t.BranchNode).(*parse.BranchNode))
		case *parse.WithNode:
			t.BranchNode = *(walk(&t.BranchNode).(*parse.BranchNode))
		case *parse.RangeNode:
			t.BranchNode = *(walk(&t.BranchNode).(*parse.BranchNode))
		case *parse.BranchNode:
			t.List = walk(t.List).(*parse.ListNode)
			if t.ElseList != nil {
				t.ElseList = walk(t.ElseList).(*parse.ListNode)
			}
		case *parse.ActionNode:
			r := walk(t.Pipe)
			if r == nil {
				return nil
			}
			t.Pipe = r.(*parse.PipeNode)
		case *parse.PipeNode:
			var cmds []*parse.CommandNode
			for _, c := range t.Cmds {
				var args []parse.Node
				for _, a := range c.Args {
					if r := walk(a); r != nil {
						args = append(args, r)
					}
				}
				if len(args) == 0 {
					return nil
				}
				c.Args = args
				cmds = append(cmds, c)
			}
			if len(cmds) == 0 {
				return nil
			}
			t.Cmds = cmds
		}
		return n
	}
	return walk(n)
}

func execute(t *template.Template, msgs []Message, tools []Tool, think *thinkValue) (string, error) {
	v, err := vars(t)
	if err != nil {
		return "", err
	}
	if !v["messages"] && !v["response"] {
		t.Tree.Root.Nodes = append(t.Tree.Root.Nodes, &responseNode)
	}
	thinkVal, level, isSet := think.Bool(), think.String(), think != nil
	system, collated := collate(msgs)
	var b bytes.Buffer
	if v["messages"] {
		err := t.Execute(&b, map[string]any{
			"System":     system,
			"Messages":   convertMessages(collated),
			"Tools":      convertTools(tools),
			"Response":   "",
			"Think":      thinkVal,
			"ThinkLevel": level,
			"IsThinkSet": isSet,
		})
		return b.String(), err
	}
	system = ""
	var prompt, response string
	run := func() error {
		if err := t.Execute(&b, map[string]any{
			"System": system, "Prompt": prompt, "Response": response,
			"Think": thinkVal, "ThinkLevel": level, "IsThinkSet": isSet,
		}); err != nil {
			return err
		}
		system, prompt, response = "", "", ""
		return nil
	}
	for _, m := range collated {
		switch m.Role {
		case "system":
			if prompt != "" || response != "" {
				if err := run(); err != nil {
					return "", err
				}
			}
			system = m.Content
		case "user":
			if response != "" {
				if err := run(); err != nil {
					return "", err
				}
			}
			prompt = m.Content
		case "assistant":
			response = m.Content
		}
	}
	var cut bool
	nodes := deleteNode(t.Root.Copy(), func(n parse.Node) bool {
		if f, ok := n.(*parse.FieldNode); ok {
			for _, id := range f.Ident {
				if id == "Response" {
					cut = true
					return false
				}
			}
		}
		return cut
	})
	tree := parse.Tree{Root: nodes.(*parse.ListNode)}
	last := template.Must(template.New("").AddParseTree("", &tree))
	if err := last.Execute(&b, map[string]any{
		"System": system, "Prompt": prompt, "Response": response,
		"Think": thinkVal, "ThinkLevel": level, "IsThinkSet": isSet,
	}); err != nil {
		return "", err
	}
	return b.String(), nil
}
