// The page of the browser test (run.sh): calls the rust-grpc server given by
// ?server= over gRPC-Web from another origin, and writes one PASS or FAIL line
// per check into #results, then DONE, for run.sh to read from the DOM.
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcWebTransport } from "@connectrpc/connect-web";
import { Echo, EchoReplySchema, EchoRequestSchema } from "./gen/corpus/echo_pb";

const params = new URLSearchParams(location.search);
const server = params.get("server") ?? "";
const refusing = params.get("refusing") ?? "";
const client = createClient(Echo, createGrpcWebTransport({ baseUrl: server }));
const lines: string[] = [];

function expect(ok: boolean, what: string) {
  if (!ok) throw new Error(what);
}

async function check(name: string, run: () => Promise<void>) {
  try {
    await run();
    lines.push(`PASS ${name}`);
  } catch (err) {
    lines.push(`FAIL ${name}: ${err}`);
  }
}

await check("unary with metadata both ways", async () => {
  let seen: string | null = null;
  const reply = await client.unary(
    { message: "hello" },
    { headers: { "x-token": "from-the-page" }, onHeader: (headers) => (seen = headers.get("x-token-seen")) },
  );
  expect(reply.message === "hello", `message ${reply.message}`);
  expect(reply.metadata.includes("x-token=from-the-page"), `metadata ${reply.metadata}`);
  expect(seen === "from-the-page", `x-token-seen header ${seen}`);
});

await check("server streaming", async () => {
  const got: string[] = [];
  for await (const reply of client.serverStream({ message: "tick", count: 3 })) {
    got.push(reply.message);
  }
  expect(got.join("|") === "tick 0|tick 1|tick 2", `replies ${got}`);
});

await check("error status", async () => {
  try {
    await client.fail({ code: Code.PermissionDenied, message: "not-for-you" });
  } catch (err) {
    const status = ConnectError.from(err);
    expect(status.code === Code.PermissionDenied, `code ${status.code}`);
    expect(status.rawMessage === "not-for-you", `message ${status.rawMessage}`);
    return;
  }
  throw new Error("the call succeeded");
});

await check("grpc-web-text by hand", async () => {
  const message = toBinary(EchoRequestSchema, create(EchoRequestSchema, { message: "in text" }));
  const framed = new Uint8Array(5 + message.length);
  new DataView(framed.buffer).setUint32(1, message.length);
  framed.set(message, 5);
  const response = await fetch(`${server}/corpus.echo.Echo/Unary`, {
    method: "POST",
    headers: { "content-type": "application/grpc-web-text", "x-grpc-web": "1" },
    body: btoa(String.fromCharCode(...framed)),
  });
  expect(response.headers.get("content-type") === "application/grpc-web-text", "content-type");
  // Padded pieces one after another: decode each on its own.
  const text = await response.text();
  const bytes: number[] = [];
  for (const piece of text.match(/[^=]*=*/g) ?? []) {
    for (const c of atob(piece)) bytes.push(c.charCodeAt(0));
  }
  const body = new Uint8Array(bytes);
  const view = new DataView(body.buffer);
  const length = view.getUint32(1);
  const reply = fromBinary(EchoReplySchema, body.subarray(5, 5 + length));
  expect(reply.message === "in text", `message ${reply.message}`);
  const trailer = body.subarray(5 + length);
  expect(trailer[0] === 0x80, `trailers flag ${trailer[0]}`);
  const block = new TextDecoder().decode(trailer.subarray(5));
  expect(block.includes("grpc-status: 0\r\n"), `trailers ${JSON.stringify(block)}`);
});

await check("a server that does not allow this origin is refused by CORS", async () => {
  const other = createClient(Echo, createGrpcWebTransport({ baseUrl: refusing }));
  try {
    await other.unary({ message: "should not pass" });
  } catch (err) {
    const status = ConnectError.from(err);
    expect(/fetch/i.test(status.rawMessage), `refused how: ${status.code} ${status.rawMessage}`);
    return;
  }
  throw new Error("the call succeeded");
});

document.getElementById("results")!.textContent = [...lines, "DONE"].join("\n");
