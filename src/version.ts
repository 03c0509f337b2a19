// The version reported by `pggate --version` and SHOW VERSION.
export const VERSION = "0.1.0";
