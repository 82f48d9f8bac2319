/*
 * keyward.h - Keyward's vendor-defined PKCS#11 constants.
 *
 * Include after pkcs11.h. Every Keyward extension lives in the vendor ranges
 * (CKA_VENDOR_DEFINED, CKM_VENDOR_DEFINED, CKR_VENDOR_DEFINED) above KEYWARD_VENDOR_BASE.
 * See docs/lifecycle.md for the lifecycle attributes and their state machine.
 */
#ifndef KEYWARD_H
#define KEYWARD_H

/* "KW" in the vendor-defined space: all Keyward extensions are offsets from this base. */
#define KEYWARD_VENDOR_BASE 0x4B570000UL

/* Lifecycle attributes (CK_ULONG values) on every key object. */
#define CKA_KW_STATE             (CKA_VENDOR_DEFINED | KEYWARD_VENDOR_BASE | 0x01UL)
#define CKA_KW_STATE_CHANGED     (CKA_VENDOR_DEFINED | KEYWARD_VENDOR_BASE | 0x02UL) /* Unix seconds, read-only */
#define CKA_KW_REVOCATION_REASON (CKA_VENDOR_DEFINED | KEYWARD_VENDOR_BASE | 0x03UL)
#define CKA_KW_USAGE_LIMIT       (CKA_VENDOR_DEFINED | KEYWARD_VENDOR_BASE | 0x04UL) /* 0: no limit; per version */

/* Versions of a logical key (token-managed): every version shares CKA_KW_KEY_ID. */
#define CKA_KW_KEY_ID            (CKA_VENDOR_DEFINED | KEYWARD_VENDOR_BASE | 0x05UL) /* byte string */
#define CKA_KW_VERSION           (CKA_VENDOR_DEFINED | KEYWARD_VENDOR_BASE | 0x06UL) /* CK_ULONG, from 1 */

/* A copy of a token key names its original; the copy follows the original's lifecycle. */
#define CKA_KW_COPY_OF           (CKA_VENDOR_DEFINED | KEYWARD_VENDOR_BASE | 0x09UL) /* CKA_UNIQUE_ID, read-only */

/* Rotation policy: rotate every N seconds (0: never); when this version was made. */
#define CKA_KW_ROTATION_PERIOD   (CKA_VENDOR_DEFINED | KEYWARD_VENDOR_BASE | 0x07UL) /* CK_ULONG seconds */
#define CKA_KW_CREATED           (CKA_VENDOR_DEFINED | KEYWARD_VENDOR_BASE | 0x08UL) /* Unix seconds, read-only */

/*
 * Access control: UTF-8 text "WHO=CLASSES;..." with WHO = user:NAME | role:ROLE | * and
 * CLASSES = comma list of sign, encrypt, wrap, derive (each with its reverse) or *. Empty: every
 * role that uses keys (operator, the default user) for everything. See docs/access-control.md.
 */
#define CKA_KW_ACL               (CKA_VENDOR_DEFINED | KEYWARD_VENDOR_BASE | 0x0AUL)

/*
 * Delegation: in a slot backed by a device (an HSM's own PKCS#11 module), the CKA_ID of the
 * device object(s) holding the key. Byte string, read-only. See docs/delegation.md.
 */
#define CKA_KW_DEVICE_ID         (CKA_VENDOR_DEFINED | KEYWARD_VENDOR_BASE | 0x0BUL)

/*
 * Rotation: C_GenerateKey (secret key) or C_GenerateKeyPair (key pair) with CKM_KW_ROTATE,
 * pParameter = &hCurrentVersion (CK_OBJECT_HANDLE; the private key of a pair), empty
 * templates. Makes the next version (same attributes, new material, active) and deactivates
 * the current one. C_FindObjects returns the newest version first.
 */
#define CKM_KW_ROTATE            (CKM_VENDOR_DEFINED | KEYWARD_VENDOR_BASE | 0x01UL)

/*
 * Versioned AES-GCM: C_Encrypt with the current version of an AES key outputs
 * "KWG1" | version (4 bytes, big-endian) | IV (12) | ciphertext | tag (16); C_Decrypt with any
 * version of the same logical key (same CKA_KW_KEY_ID) uses the version the data names.
 * Optional pParameter: associated data, authenticated together with the 8-byte header.
 */
#define CKM_KW_VERSIONED_AES_GCM (CKM_VENDOR_DEFINED | KEYWARD_VENDOR_BASE | 0x02UL)

/* CKA_KW_STATE values (NIST SP 800-57 Part 1 / KMIP key states). */
#define KW_STATE_PRE_ACTIVE  1UL
#define KW_STATE_ACTIVE      2UL
#define KW_STATE_SUSPENDED   3UL
#define KW_STATE_DEACTIVATED 4UL
#define KW_STATE_COMPROMISED 5UL
#define KW_STATE_DESTROYED   6UL

/* CKA_KW_REVOCATION_REASON values (RFC 5280 / KMIP revocation reasons). */
#define KW_REASON_NONE                    0UL
#define KW_REASON_UNSPECIFIED             1UL
#define KW_REASON_KEY_COMPROMISE          2UL
#define KW_REASON_CA_COMPROMISE           3UL
#define KW_REASON_AFFILIATION_CHANGED     4UL
#define KW_REASON_SUPERSEDED              5UL
#define KW_REASON_CESSATION_OF_OPERATION  6UL
#define KW_REASON_PRIVILEGE_WITHDRAWN     7UL

#endif /* KEYWARD_H */
