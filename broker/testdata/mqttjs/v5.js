// Run by TestV5MQTTJS (broker/v5clients_test.go) with Node and MQTT.js
// from web/node_modules: node v5.js URL ID. Two MQTT 5.0 clients make a
// request/response round trip through the broker. The requester subscribes
// to ID/resp with subscription identifier 7, the responder to ID/req with
// identifier 42 and options (no local, retain as published, retain
// handling 2), after a retained message on ID/req that it must not get;
// then it publishes to ID/req itself, which it must not get either. The
// requester publishes a retained QoS 1 request with user properties, a
// response topic, correlation data and a content type; the responder,
// whose first message must be that request with RETAIN 1, answers on the
// response topic with the same correlation data.
// It prints one JSON line: what each side received, binary values in hex,
// and the errors seen.
"use strict";
const mqtt = require("mqtt");

const [url, id] = process.argv.slice(2);
const errors = [];
const hex = (b) => (b ? Buffer.from(b).toString("hex") : null);
const seen = (topic, payload, packet) => {
  const p = packet.properties || {};
  return {
    topic, payload: hex(payload), qos: packet.qos, retain: packet.retain,
    userProperties: p.userProperties || null, responseTopic: p.responseTopic || null,
    correlationData: hex(p.correlationData), contentType: p.contentType || null,
    payloadFormatIndicator: p.payloadFormatIndicator === undefined ? null : Number(p.payloadFormatIndicator),
    subscriptionIdentifier: p.subscriptionIdentifier === undefined ? null : p.subscriptionIdentifier,
  };
};
const connect = (clientId) => new Promise((resolve, reject) => {
  const c = mqtt.connect(url, {
    protocolVersion: 5, clientId, clean: true, keepalive: 30, reconnectPeriod: 0, connectTimeout: 5000,
    properties: { sessionExpiryInterval: 0, receiveMaximum: 20, userProperties: { role: clientId } },
  });
  c.on("error", (e) => errors.push(clientId + ": " + e.message));
  c.once("connect", (connack) => resolve({ c, connack }));
  c.once("close", () => reject(new Error(clientId + ": closed before CONNACK")));
});

async function main() {
  const out = { errors };
  const resp = await connect(id + "-responder");
  const req = await connect(id + "-requester");
  out.connackReasonCode = req.connack.reasonCode;

  const request = new Promise((resolve) => {
    resp.c.on("message", async (topic, payload, packet) => {
      out.request = out.request || seen(topic, payload, packet);
      const p = packet.properties || {};
      if (!p.responseTopic) {
        errors.push("responder got " + JSON.stringify(seen(topic, payload, packet)) + ", want only the request");
        return;
      }
      await resp.c.publishAsync(p.responseTopic, Buffer.from("pong"), {
        qos: 1, properties: { correlationData: p.correlationData, userProperties: { answer: "yes" } },
      });
      resolve();
    });
  });
  const response = new Promise((resolve) => {
    req.c.on("message", (topic, payload, packet) => { out.response = seen(topic, payload, packet); resolve(); });
  });
  // A retained message before the responder subscribes: Retain Handling 2
  // keeps it from the responder.
  await req.c.publishAsync(id + "/req", Buffer.from("stale"), { qos: 1, retain: true });
  const g1 = await resp.c.subscribeAsync(id + "/req", { qos: 1, nl: true, rap: true, rh: 2, properties: { subscriptionIdentifier: 42 } });
  const g2 = await req.c.subscribeAsync(id + "/resp", { qos: 1, properties: { subscriptionIdentifier: 7 } });
  out.granted = [g1[0].qos, g2[0].qos];
  // The responder's own message: No Local keeps it from the responder.
  await resp.c.publishAsync(id + "/req", Buffer.from("self"), { qos: 1 });

  // The request is retained too: Retain As Published shows RETAIN 1.
  await req.c.publishAsync(id + "/req", Buffer.from([0x70, 0x69, 0x6e, 0x67, 0x00, 0xff]), {
    qos: 1, retain: true,
    properties: {
      userProperties: { site: "lab-3", tag: ["a", "b"] },
      responseTopic: id + "/resp",
      correlationData: Buffer.from([0x00, 0x01, 0xfe, 0xff]),
      contentType: "application/octet-stream",
    },
  });
  const timeout = new Promise((_, reject) => setTimeout(() => reject(new Error("no round trip within 10 s")), 10000));
  await Promise.race([Promise.all([request, response]), timeout]);
  await req.c.endAsync();
  await resp.c.endAsync();
  return out;
}

main().then(
  (out) => { console.log(JSON.stringify(out)); process.exit(0); },
  (e) => { errors.push(String(e && e.stack ? e.stack : e)); console.log(JSON.stringify({ errors })); process.exit(1); },
);
