/** A postal address, as orders and shipments keep it. */
export interface Address {
  line1: string;
  line2?: string;
  city: string;
  postalCode: string;
  /** ISO 3166-1 alpha-2, upper case (`DE`, `US` …). */
  country: string;
}
