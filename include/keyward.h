/*
 * keyward.h - Keyward's vendor-defined PKCS#11 constants.
 *
 * Include after pkcs11.h. Every Keyward extension lives in the vendor ranges
 * (CKA_VENDOR_DEFINED, CKM_VENDOR_DEFINED, CKR_VENDOR_DEFINED) above KEYWARD_VENDOR_BASE.
 */
#ifndef KEYWARD_H
#define KEYWARD_H

/* "KW" in the vendor-defined space: all Keyward extensions are offsets from this base. */
#define KEYWARD_VENDOR_BASE 0x4B570000UL

#endif /* KEYWARD_H */
