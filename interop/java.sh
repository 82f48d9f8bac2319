#!/usr/bin/env bash
# Java 17 SunPKCS11 against the module: the PKCS11 KeyStore lists private keys that have a
# certificate with the same CKA_ID (written by pkcs11-tool) and a token AES key; SHA256withRSA,
# RSASSA-PSS and SHA256withECDSA signatures by token keys, verified by the JDK's default
# providers and by plain OpenSSL; keytool -genkeypair on the token (RSA and EC): the new
# certificates verify with plain OpenSSL and the token keys sign for them; AES/GCM/NoPadding
# with token keys, cross-checked by the JDK's SunJCE on a key whose value is known.
# Usage: MODULE=/path/to/module.so interop/java.sh   (needs a JDK 17+: java, keytool)
# shellcheck disable=SC2317  # functions are called indirectly, through kw_check
set -euo pipefail
# shellcheck source=interop/lib.sh
. "$(dirname "$0")/lib.sh"

TOKEN=kw-java
# A known AES-256 key, imported onto the token so that SunJCE can check the token's output.
AES_KNOWN_HEX=000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f

# Java (and keytool) are bounded like every other tool; the JVM start costs ~1 s.
jrun() {
  KW_PIN="$KW_USER_PIN" timeout "${KW_TIMEOUT:-60}" java "$@"
}

# keytool on the token. -providerName makes keytool generate key pairs with SunPKCS11 (on the
# token); without it an RSA pair comes from SunRsaSign and is imported with C_CreateObject.
kt() {
  timeout "${KW_TIMEOUT:-60}" keytool -keystore NONE -storetype PKCS11 \
    -providerClass sun.security.pkcs11.SunPKCS11 -providerArg "$KW_WORK/sunpkcs11.cfg" \
    -providerName SunPKCS11-Keyward -storepass "$KW_USER_PIN" "$@"
}

java_present() {
  java -version 2>&1 | tee java-version.txt
  expect_in 'version "(1[7-9]|[2-9][0-9])' java-version.txt
  command -v keytool
}

# Certificate for token key KEY (public key PUB) issued by a throw-away CA made by plain
# OpenSSL (x509 -force_pubkey): the token is not involved in making it.
cert_for() {
  local key=$1
  plain_openssl req -new -key ca.key -subj "/CN=$key" -out "$key.csr"
  plain_openssl x509 -req -in "$key.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 \
    -force_pubkey "$key.pub.pem" -outform DER -out "$key.crt.der"
  p11_user "$TOKEN" --write-object "$key.crt.der" --type cert --id "$2" --label "$key"
}

# Token: rsa1 (id 01) and ec1 (id 02) with certificates of the same CKA_ID, aes1 (id 10,
# generated) and aes2 (id 11, the known value); SunPKCS11 configuration.
make_token() {
  kw_init_token "$TOKEN"
  kw_keygen "$TOKEN" rsa:2048 01 rsa1
  kw_keygen "$TOKEN" EC:prime256v1 02 ec1
  kw_export_pubkey "$TOKEN" 01 rsa1.pub.pem
  kw_export_pubkey "$TOKEN" 02 ec1.pub.pem
  plain_openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key \
    -subj /CN=kw-java-ca -days 2 -out ca.crt
  cert_for rsa1 01
  cert_for ec1 02
  p11_user "$TOKEN" --keygen --key-type AES:32 --id 10 --label aes1
  perl -e 'print pack("H*", $ARGV[0])' "$AES_KNOWN_HEX" >aes2.key
  test "$(wc -c <aes2.key)" -eq 32
  p11_user "$TOKEN" --write-object aes2.key --type secrkey --key-type AES:32 --id 11 \
    --label aes2 --usage-decrypt --sensitive
  head -c 5000 /dev/urandom >data.bin
  plain_openssl dgst -sha256 -binary -out data.sha256 data.bin
  printf 'name = Keyward\nlibrary = %s\nslotListIndex = 0\n' "$MODULE" >sunpkcs11.cfg
}

write_java() {
  cat >KwJava.java <<'EOF'
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.*;
import java.security.cert.X509Certificate;
import java.security.spec.MGF1ParameterSpec;
import java.security.spec.PSSParameterSpec;
import java.util.Arrays;
import java.util.Collections;
import javax.crypto.AEADBadTagException;
import javax.crypto.Cipher;
import javax.crypto.SecretKey;
import javax.crypto.spec.GCMParameterSpec;
import javax.crypto.spec.SecretKeySpec;

/** SunPKCS11 checks: java KwJava CONFIG COMMAND ARGS; exit status 0 only on success. */
public class KwJava {
  static Provider p;
  static KeyStore ks;
  static char[] pin;

  static void fail(String why) {
    System.out.println("FAILED: " + why);
    System.exit(1);
  }

  public static void main(String[] a) throws Exception {
    pin = System.getenv("KW_PIN").toCharArray();
    p = Security.getProvider("SunPKCS11").configure(a[0]);
    System.out.println("provider: " + p.getName());
    ks = KeyStore.getInstance("PKCS11", p);
    ks.load(null, pin);
    switch (a[1]) {
      case "list": list(Arrays.copyOfRange(a, 2, a.length)); break;
      case "sign": sign(a[2], a[3], Path.of(a[4]), Path.of(a[5])); break;
      case "aes": aes(a[2], a.length > 3 ? a[3] : null); break;
      default: fail("unknown command " + a[1]);
    }
  }

  /** Every named alias is a private-key entry whose certificate's key matches, or a secret key. */
  static void list(String[] expected) throws Exception {
    for (String alias : Collections.list(ks.aliases())) {
      System.out.println("alias " + alias + ": key entry " + ks.isKeyEntry(alias)
          + ", certificate " + (ks.getCertificate(alias) != null));
    }
    for (String alias : expected) {
      if (!ks.containsAlias(alias)) fail("no alias " + alias);
      if (!ks.isKeyEntry(alias)) fail(alias + " is not a key entry");
      Key k = ks.getKey(alias, pin);
      if (k == null) fail(alias + ": getKey returned null");
      System.out.println(alias + ": " + k.getAlgorithm() + " " + k.getFormat() + " "
          + k.getClass().getName());
      if (k instanceof PrivateKey) {
        X509Certificate c = (X509Certificate) ks.getCertificate(alias);
        if (c == null) fail(alias + ": private key without certificate");
        if (!c.getPublicKey().getAlgorithm().equals(k.getAlgorithm()))
          fail(alias + ": key " + k.getAlgorithm() + ", certificate " + c.getPublicKey().getAlgorithm());
        KeyStore.Entry e = ks.getEntry(alias, new KeyStore.PasswordProtection(pin));
        if (!(e instanceof KeyStore.PrivateKeyEntry)) fail(alias + ": not a PrivateKeyEntry");
      } else if (!(k instanceof SecretKey)) {
        fail(alias + ": neither a private nor a secret key");
      }
    }
  }

  static void setParams(Signature s, String alg) throws Exception {
    if (alg.equals("RSASSA-PSS")) {
      s.setParameter(new PSSParameterSpec("SHA-256", "MGF1", MGF1ParameterSpec.SHA256, 32, 1));
    }
  }

  /** Sign DATA with the token key ALIAS through SunPKCS11, verify with the default providers. */
  static void sign(String alias, String alg, Path data, Path out) throws Exception {
    PrivateKey k = (PrivateKey) ks.getKey(alias, pin);
    if (k == null) fail("no private key " + alias);
    byte[] msg = Files.readAllBytes(data);
    Signature s = Signature.getInstance(alg, p);
    setParams(s, alg);
    s.initSign(k);
    s.update(msg);
    byte[] sig = s.sign();
    Files.write(out, sig);
    PublicKey pub = ks.getCertificate(alias).getPublicKey();
    Signature v = Signature.getInstance(alg);
    setParams(v, alg);
    v.initVerify(pub);
    v.update(msg);
    System.out.println(alg + " signed by " + s.getProvider().getName() + ", verified by "
        + v.getProvider().getName());
    if (v.getProvider() == p) fail("verifier is the PKCS#11 provider");
    if (!v.verify(sig)) fail(alg + " signature by " + alias + " does not verify");
    msg[0] ^= 1;
    v.initVerify(pub);
    v.update(msg);
    if (v.verify(sig)) fail("a changed message verified");
  }

  /** AES/GCM/NoPadding with the token key ALIAS; KNOWN (hex) is its value, if known. */
  static void aes(String alias, String knownHex) throws Exception {
    SecretKey k = (SecretKey) ks.getKey(alias, pin);
    if (k == null) fail("no secret key " + alias);
    SecureRandom r = new SecureRandom();
    byte[] iv = new byte[12], aad = "keyward aad".getBytes(), msg = new byte[1000];
    r.nextBytes(iv);
    r.nextBytes(msg);
    Cipher c = Cipher.getInstance("AES/GCM/NoPadding", p);
    c.init(Cipher.ENCRYPT_MODE, k, new GCMParameterSpec(128, iv));
    c.updateAAD(aad);
    byte[] ct = c.doFinal(msg);
    if (ct.length != msg.length + 16) fail("ciphertext length " + ct.length);
    Cipher d = Cipher.getInstance("AES/GCM/NoPadding", p);
    d.init(Cipher.DECRYPT_MODE, k, new GCMParameterSpec(128, iv));
    d.updateAAD(aad);
    if (!Arrays.equals(d.doFinal(ct), msg)) fail("token decryption differs");
    byte[] bad = ct.clone();
    bad[5] ^= 1;
    d.init(Cipher.DECRYPT_MODE, k, new GCMParameterSpec(128, iv));
    d.updateAAD(aad);
    try {
      d.doFinal(bad);
      fail("a changed ciphertext decrypted");
    } catch (AEADBadTagException expected) {
      System.out.println("changed ciphertext refused: " + expected.getMessage());
    }
    System.out.println("AES-GCM round trip on the token with " + alias + " ok");
    if (knownHex == null) return;
    byte[] raw = new byte[knownHex.length() / 2];
    for (int i = 0; i < raw.length; i++)
      raw[i] = (byte) Integer.parseInt(knownHex.substring(2 * i, 2 * i + 2), 16);
    SecretKeySpec soft = new SecretKeySpec(raw, "AES");
    Cipher j = Cipher.getInstance("AES/GCM/NoPadding", "SunJCE");
    j.init(Cipher.DECRYPT_MODE, soft, new GCMParameterSpec(128, iv));
    j.updateAAD(aad);
    if (!Arrays.equals(j.doFinal(ct), msg)) fail("SunJCE decrypts the token's ciphertext differently");
    byte[] iv2 = iv.clone();
    iv2[0] ^= 1;
    j.init(Cipher.ENCRYPT_MODE, soft, new GCMParameterSpec(128, iv2));
    j.updateAAD(aad);
    byte[] ct2 = j.doFinal(msg);
    d.init(Cipher.DECRYPT_MODE, k, new GCMParameterSpec(128, iv2));
    d.updateAAD(aad);
    if (!Arrays.equals(d.doFinal(ct2), msg)) fail("the token decrypts SunJCE's ciphertext differently");
    System.out.println("SunJCE agrees with the token on " + alias);
  }
}
EOF
}

# The checks, compiled once (javac must be there: `java File.java` needs the JDK too).
compile_java() {
  write_java
  timeout "${KW_TIMEOUT:-60}" javac -d classes KwJava.java
  test -f classes/KwJava.class
}

kwjava() {
  jrun -cp "$KW_WORK/classes" KwJava "$KW_WORK/sunpkcs11.cfg" "$@"
}

# java_sign ALIAS ALG OPENSSL-ARGS...: sign through SunPKCS11 (verified inside by the default
# provider), then verify the same signature with plain OpenSSL.
java_sign() {
  local alias=$1 alg=$2
  shift 2
  kwjava sign "$alias" "$alg" data.bin "sig.$alias.$alg"
  plain_openssl dgst -sha256 -verify "$alias.pub.pem" -signature "sig.$alias.$alg" "$@" data.bin
}

keytool_list() {
  kt -list >keytool-list.txt
  cat keytool-list.txt
  expect_in '^rsa1, PrivateKeyEntry' keytool-list.txt
  expect_in '^ec1, PrivateKeyEntry' keytool-list.txt
}

# keytool_gen ALIAS KEYTOOL-ARGS...: key pair and self-signed certificate on the token.
keytool_gen() {
  local alias=$1
  shift
  kt -genkeypair -alias "$alias" -dname "CN=$alias" -validity 2 "$@"
  kt -list -alias "$alias" >"$alias.list.txt"
  cat "$alias.list.txt"
  expect_in "^$alias, PrivateKeyEntry" "$alias.list.txt"
}

# object_blocks LISTING FIELD VALUE: the objects of a pkcs11-tool listing whose FIELD (label,
# ID) is VALUE, each with its indented lines.
object_blocks() {
  awk -v f="$2:" -v v="$3" '
    function flush() { if (hit) print blk; blk = ""; hit = 0 }
    /^[^ \t]/ { flush(); blk = $0; next }
    { blk = blk "\n" $0; if ($1 == f && $2 == v && NF == 2) hit = 1 }
    END { flush() }' "$1"
}

# keytool_check ALIAS TYPE MECH INPUT: the certificate keytool made verifies (plain OpenSSL); the
# token's private key with the certificate's CKA_ID was generated on the token (CKA_LOCAL) and
# signs, through pkcs11-tool, what plain OpenSSL verifies with the certificate's public key.
keytool_check() {
  local alias=$1 type=$2 mech=$3 input=$4 id
  kt -exportcert -rfc -alias "$alias" -file "$alias.crt.pem"
  plain_openssl verify -CAfile "$alias.crt.pem" "$alias.crt.pem"
  plain_openssl x509 -in "$alias.crt.pem" -noout -pubkey >"$alias.cert-pub.pem"
  p11_user "$TOKEN" --list-objects --type cert >certs.txt
  object_blocks certs.txt label "$alias" >"$alias.cert.txt"
  cat "$alias.cert.txt"
  id=$(awk '$1 == "ID:" { print $2 }' "$alias.cert.txt")
  [ -n "$id" ]
  p11_user "$TOKEN" --list-objects --type privkey >privkeys.txt
  object_blocks privkeys.txt ID "$id" >"$alias.key.txt"
  cat "$alias.key.txt"
  expect_in "^Private Key Object; $type" "$alias.key.txt"
  expect_in 'Access: .*local' "$alias.key.txt"
  p11_user "$TOKEN" --sign --id "$id" -m "$mech" --signature-format openssl -i "$input" \
    -o "sig.$alias"
  plain_openssl dgst -sha256 -verify "$alias.cert-pub.pem" -signature "sig.$alias" data.bin
}

main() {
  kw_setup java
  kw_require "java 17+ and keytool present" java_present
  kw_require "token: rsa1, ec1 with certificates, aes1, aes2 (pkcs11-tool)" make_token
  kw_require "javac KwJava.java (SunPKCS11 checks)" compile_java
  kw_check "KeyStore PKCS11 lists rsa1, ec1 (private keys + certs) and aes1, aes2" \
    kwjava list rsa1 ec1 aes1 aes2
  kw_check "keytool -list shows rsa1, ec1 as PrivateKeyEntry" keytool_list

  kw_check "SHA256withRSA by rsa1 (verified by SunRsaSign and openssl)" java_sign rsa1 \
    SHA256withRSA
  kw_check "RSASSA-PSS SHA-256 by rsa1 (verified by SunRsaSign and openssl)" java_sign rsa1 \
    RSASSA-PSS -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:32
  kw_check "SHA256withECDSA by ec1 (verified by SunEC and openssl)" java_sign ec1 \
    SHA256withECDSA

  kw_check "keytool -genkeypair EC P-256 into the token" keytool_gen kt-ec -keyalg EC \
    -groupname secp256r1 -sigalg SHA256withECDSA
  kw_check "keytool EC certificate verifies, its key on the token signs (openssl)" \
    keytool_check kt-ec EC ECDSA data.sha256
  kw_check "keytool -genkeypair RSA 2048 into the token" keytool_gen kt-rsa -keyalg RSA \
    -keysize 2048 -sigalg SHA256withRSA
  kw_check "keytool RSA certificate verifies, its key on the token signs (openssl)" \
    keytool_check kt-rsa RSA SHA256-RSA-PKCS data.bin

  kw_check "AES/GCM/NoPadding with token key aes1 (round trip, tamper refused)" kwjava aes aes1
  kw_check "AES/GCM/NoPadding with token key aes2, cross-checked by SunJCE" kwjava aes aes2 \
    "$AES_KNOWN_HEX"

  kw_finish
}

main "$@"
