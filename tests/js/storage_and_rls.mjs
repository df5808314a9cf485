// Drives the sandbox with the official supabase-js, as a browser or Node app would.
// In: SUPABASE_URL, SUPABASE_ANON_KEY, EMAIL, PASSWORD. Out: one JSON line of what happened.
import { createClient } from "@supabase/supabase-js";
import ws from "ws"; // Node 20 has no WebSocket of its own; supabase-js's realtime needs one

const options = { realtime: { transport: ws } };

const pdf = new Blob([Buffer.from(process.env.PDF_BASE64, "base64")], { type: "application/pdf" });
const out = {};
const anon = createClient(process.env.SUPABASE_URL, process.env.SUPABASE_ANON_KEY, options);

const listed = await anon.from("documents").select("*");
out.anonSelect = { status: listed.status, data: listed.data, error: listed.error };
const inserted = await anon.from("documents").insert({ filename: "anon.pdf" });
out.anonInsert = { status: inserted.status, code: inserted.error?.code, message: inserted.error?.message };

const client = createClient(process.env.SUPABASE_URL, process.env.SUPABASE_ANON_KEY, options);
const { data: signedUp, error: signUpError } = await client.auth.signUp({
  email: process.env.EMAIL,
  password: process.env.PASSWORD,
});
if (signUpError) throw signUpError;
const uid = signedUp.user.id;
const bucket = client.storage.from("documents");

const { data: signed, error: signError } = await bucket.createSignedUploadUrl(`${uid}/signed.pdf`);
out.signError = signError?.message ?? null;
const uploaded = await bucket.uploadToSignedUrl(`${uid}/signed.pdf`, signed.token, pdf);
out.signedUpload = { data: uploaded.data, error: uploaded.error?.message ?? null };

const direct = await bucket.upload(`${uid}/direct.pdf`, pdf, { contentType: "application/pdf" });
out.directUpload = { path: direct.data?.path ?? null, error: direct.error?.message ?? null };

for (const name of ["signed.pdf", "direct.pdf"]) {
  const { data, error } = await bucket.download(`${uid}/${name}`);
  out[name] = { size: data ? (await data.arrayBuffer()).byteLength : null, type: data?.type ?? null, error: error?.message ?? null };
}
out.uid = uid;
console.log(JSON.stringify(out));
