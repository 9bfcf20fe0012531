// A client of the embedded gateway written with OpenFaaS's own Go types (faas-provider's
// types package, as faas-cli and the OpenFaaS Go SDK use them): deploy, list, describe,
// invoke, scale, secrets, logs, info and remove, each request marshalled and each answer
// unmarshalled by those types. faas-cli and the Go SDK themselves cannot be had here (the Go
// module proxy answers 403 for them); faas-provider is served.
//
//	go run . -gateway http://127.0.0.1:8080 -user admin -password P -image IMAGE
//
// Prints one JSON object of what it saw; exits 1 naming the first step that failed.
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/openfaas/faas-provider/logs"
	"github.com/openfaas/faas-provider/types"
)

var (
	gateway  = flag.String("gateway", "http://127.0.0.1:8080", "gateway URL")
	user     = flag.String("user", "admin", "basic-auth user")
	password = flag.String("password", "", "basic-auth password")
	image    = flag.String("image", "", "function image")
	name     = flag.String("name", "go-echo", "function name")
)

func fail(step string, err error) {
	fmt.Fprintf(os.Stderr, "%s: %v\n", step, err)
	os.Exit(1)
}

func call(method, path string, body any, auth bool) (*http.Response, []byte) {
	var rd io.Reader
	if body != nil {
		data, err := json.Marshal(body)
		if err != nil {
			fail(path, err)
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, *gateway+path, rd)
	if err != nil {
		fail(path, err)
	}
	if auth {
		req.SetBasicAuth(*user, *password)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		fail(method+" "+path, err)
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(res.Body)
	return res, data
}

func expect(step string, res *http.Response, data []byte, codes ...int) {
	for _, c := range codes {
		if res.StatusCode == c {
			return
		}
	}
	fail(step, fmt.Errorf("HTTP %d (want %v): %s", res.StatusCode, codes, data))
}

func main() {
	flag.Parse()
	seen := map[string]any{}

	res, data := call("GET", "/system/info", nil, true)
	expect("info", res, data, 200)
	var info struct {
		Provider *types.ProviderInfo `json:"provider"`
		Version  *types.VersionInfo  `json:"version"`
		Arch     string              `json:"arch"`
	}
	if err := json.Unmarshal(data, &info); err != nil || info.Provider == nil {
		fail("info decode", fmt.Errorf("%v: %s", err, data))
	}
	seen["orchestration"] = info.Provider.Orchestration

	labels := map[string]string{"com.openfaas.scale.max": "2"}
	annotations := map[string]string{"topic": "go"}
	deploy := types.FunctionDeployment{Service: *name, Image: *image, Labels: &labels,
		Annotations: &annotations, EnvVars: map[string]string{"greeting": "hi"},
		Limits: &types.FunctionResources{Memory: "128Mi"}}
	res, data = call("POST", "/system/functions", deploy, true)
	expect("deploy", res, data, 202)

	var status types.FunctionStatus
	deadline := time.Now().Add(120 * time.Second)
	for {
		res, data = call("GET", "/system/function/"+*name+"?namespace=openfaas-fn", nil, true)
		expect("describe", res, data, 200)
		if err := json.Unmarshal(data, &status); err != nil {
			fail("describe decode", err)
		}
		if status.AvailableReplicas >= 1 {
			break
		}
		if time.Now().After(deadline) {
			fail("describe", fmt.Errorf("no replica available: %s", data))
		}
		time.Sleep(200 * time.Millisecond)
	}
	seen["namespace"] = status.Namespace
	seen["annotations"] = *status.Annotations
	seen["memory"] = status.Limits.Memory
	seen["created"] = !status.CreatedAt.IsZero()

	res, data = call("GET", "/system/functions", nil, true)
	expect("list", res, data, 200)
	var list []types.FunctionStatus
	if err := json.Unmarshal(data, &list); err != nil {
		fail("list decode", err)
	}
	seen["listed"] = len(list)

	req, _ := http.NewRequest("PATCH", *gateway+"/function/"+*name+".openfaas-fn/go?lang=go",
		strings.NewReader("from go"))
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		fail("invoke", err)
	}
	data, _ = io.ReadAll(res.Body)
	res.Body.Close()
	expect("invoke", res, data, 200)
	var echoed map[string]any
	_ = json.Unmarshal(data, &echoed)
	seen["invoke"] = echoed
	seen["call_id"] = res.Header.Get("X-Call-Id") != ""

	// Namespace left empty: the Go types leave it out (omitempty).
	res, data = call("POST", "/system/scale-function/"+*name,
		types.ScaleServiceRequest{ServiceName: *name, Replicas: 2}, true)
	expect("scale", res, data, 200, 202)

	secret := types.Secret{Name: "go-key", Value: "v1"}
	res, data = call("POST", "/system/secrets", secret, true)
	expect("secret create", res, data, 201)
	secret.Value = "v2"
	res, data = call("PUT", "/system/secrets", secret, true)
	expect("secret update", res, data, 200)
	res, data = call("GET", "/system/secrets", nil, true)
	expect("secret list", res, data, 200)
	var secrets []types.Secret
	if err := json.Unmarshal(data, &secrets); err != nil {
		fail("secret list decode", err)
	}
	seen["secrets"] = len(secrets)
	res, data = call("DELETE", "/system/secrets", types.Secret{Name: "go-key"}, true)
	expect("secret delete", res, data, 204)

	res, data = call("GET", "/system/logs?name="+*name+"&tail=3", nil, true)
	expect("logs", res, data, 200)
	lines := 0
	dec := json.NewDecoder(bytes.NewReader(data))
	for dec.More() {
		var msg logs.Message
		if err := dec.Decode(&msg); err != nil {
			fail("logs decode", err)
		}
		lines++
	}
	seen["log_lines"] = lines

	res, data = call("DELETE", "/system/functions",
		types.DeleteFunctionRequest{FunctionName: *name}, true)
	expect("remove", res, data, 200)
	res, data = call("GET", "/system/function/"+*name, nil, true)
	expect("gone", res, data, 404)

	out, _ := json.Marshal(seen)
	fmt.Println(string(out))
}
