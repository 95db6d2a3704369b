/*
 * The raw material of the demo data set (`npm run seed`): a small homeware shop selling
 * across Europe. Lists only; src/demo/seed.ts turns them into commands.
 */

/** A product of the demo catalogue; prices in euro cents. */
export interface DemoProduct {
  name: string;
  slug: string;
  price: number;
  /** Units on hand at registration. */
  stock: number;
}

/** The regular catalogue: enough stock for a couple of thousand orders. */
export const PRODUCTS: readonly DemoProduct[] = [
  { name: 'Stoneware mug, speckled', slug: 'stoneware-mug', price: 1_450, stock: 900 },
  { name: 'Pour-over coffee dripper', slug: 'coffee-dripper', price: 2_900, stock: 600 },
  { name: 'Cast iron skillet 26 cm', slug: 'cast-iron-skillet', price: 5_900, stock: 500 },
  { name: 'Linen tea towels (set of 2)', slug: 'linen-tea-towels', price: 1_990, stock: 800 },
  { name: "Chef's knife 20 cm", slug: 'chefs-knife', price: 8_900, stock: 500 },
  { name: 'Oak cutting board', slug: 'oak-cutting-board', price: 4_500, stock: 600 },
  { name: 'Glass storage jar 1 l', slug: 'glass-jar', price: 890, stock: 1_200 },
  { name: 'Espresso cups (set of 4)', slug: 'espresso-cups', price: 3_200, stock: 600 },
  { name: 'Ceramic teapot 1.2 l', slug: 'ceramic-teapot', price: 4_900, stock: 500 },
  { name: 'Bamboo utensil set', slug: 'bamboo-utensils', price: 1_590, stock: 800 },
  { name: 'Enamel pie dish', slug: 'enamel-pie-dish', price: 2_400, stock: 600 },
  { name: 'Hand-thrown serving bowl', slug: 'serving-bowl', price: 6_800, stock: 500 },
  { name: 'Copper kettle 1.5 l', slug: 'copper-kettle', price: 11_900, stock: 500 },
  { name: 'Beeswax food wraps (set of 3)', slug: 'beeswax-wraps', price: 1_800, stock: 900 },
];

/**
 * A product with too little stock for what is asked of it: every order of it is paid,
 * then refunded and cancelled by the fulfillment process when it cannot reserve the stock.
 */
export const LIMITED_PRODUCT: DemoProduct = {
  name: 'Signed cookbook, first edition',
  slug: 'signed-cookbook',
  price: 7_500,
  stock: 2,
};

// prettier-ignore
export const FIRST_NAMES = [
  'Anna', 'Lukas', 'Sofia', 'Mateo', 'Emma', 'Noah', 'Chloé', 'Liam', 'Ingrid', 'Jonas',
  'Amélie', 'Marco', 'Freya', 'Oskar', 'Lucía', 'Tomás', 'Elif', 'Jakub', 'Saoirse',
  'Henrik', 'Giulia', 'Pieter', 'Zofia', 'Rui', 'Léa', 'Matthias', 'Aoife', 'Nils', 'Marta',
  'Julien',
] as const;

// prettier-ignore
export const LAST_NAMES = [
  'Schmidt', 'Dubois', 'Rossi', 'García', 'Jansen', 'Nowak', 'Andersson', 'Murphy',
  'Müller', 'Silva', 'Bernard', 'Hansen', 'Ferrari', 'Kowalski', 'Lindqvist', 'Byrne',
  'de Vries', 'Martínez', 'Fischer', 'Nielsen', 'Costa', 'Lefèvre', 'Wagner', 'Peeters',
] as const;

/** Where customers live: a country, its phone prefix, cities with a postal code and streets. */
export interface DemoCountry {
  code: string;
  phone: string;
  cities: readonly { name: string; postalCode: string }[];
  streets: readonly string[];
  /** How a street address is written: number after (most) or before (FR, IE) the street. */
  numberFirst?: boolean;
}

export const COUNTRIES: readonly DemoCountry[] = [
  {
    code: 'DE',
    phone: '+49',
    cities: [
      { name: 'Berlin', postalCode: '10115' },
      { name: 'Hamburg', postalCode: '20095' },
      { name: 'München', postalCode: '80331' },
      { name: 'Köln', postalCode: '50667' },
    ],
    streets: ['Hauptstraße', 'Gartenweg', 'Lindenallee', 'Schillerstraße', 'Bahnhofstraße'],
  },
  {
    code: 'FR',
    phone: '+33',
    cities: [
      { name: 'Paris', postalCode: '75011' },
      { name: 'Lyon', postalCode: '69002' },
      { name: 'Nantes', postalCode: '44000' },
    ],
    streets: ['rue de la Paix', 'avenue Jean Jaurès', 'rue Victor Hugo', 'boulevard Voltaire'],
    numberFirst: true,
  },
  {
    code: 'NL',
    phone: '+31',
    cities: [
      { name: 'Amsterdam', postalCode: '1012 AB' },
      { name: 'Utrecht', postalCode: '3511 LX' },
      { name: 'Rotterdam', postalCode: '3011 AD' },
    ],
    streets: ['Prinsengracht', 'Oudegracht', 'Kerkstraat', 'Molenweg'],
  },
  {
    code: 'IT',
    phone: '+39',
    cities: [
      { name: 'Milano', postalCode: '20121' },
      { name: 'Bologna', postalCode: '40121' },
      { name: 'Torino', postalCode: '10121' },
    ],
    streets: ['Via Roma', 'Corso Garibaldi', 'Via Dante', 'Via Verdi'],
  },
  {
    code: 'ES',
    phone: '+34',
    cities: [
      { name: 'Madrid', postalCode: '28013' },
      { name: 'Valencia', postalCode: '46002' },
      { name: 'Sevilla', postalCode: '41004' },
    ],
    streets: ['Calle Mayor', 'Calle de Alcalá', 'Avenida de la Constitución', 'Calle Sol'],
  },
  {
    code: 'SE',
    phone: '+46',
    cities: [
      { name: 'Stockholm', postalCode: '111 22' },
      { name: 'Göteborg', postalCode: '411 03' },
    ],
    streets: ['Storgatan', 'Drottninggatan', 'Kungsgatan'],
  },
  {
    code: 'IE',
    phone: '+353',
    cities: [
      { name: 'Dublin', postalCode: 'D02 X285' },
      { name: 'Cork', postalCode: 'T12 K8AF' },
    ],
    streets: ['Main Street', 'Harbour Road', 'Church Lane'],
    numberFirst: true,
  },
  {
    code: 'PL',
    phone: '+48',
    cities: [
      { name: 'Warszawa', postalCode: '00-001' },
      { name: 'Kraków', postalCode: '31-001' },
    ],
    streets: ['ul. Marszałkowska', 'ul. Floriańska', 'ul. Długa'],
  },
];

export const CARRIERS = ['DHL', 'UPS', 'DPD', 'GLS', 'PostNL'] as const;

export const CANCEL_REASONS = [
  'Ordered the wrong item',
  'Found it cheaper elsewhere',
  'Changed my mind',
  'Ordered twice by mistake',
] as const;

export const REFUND_REASONS = [
  'Delivery would take too long',
  'Gift no longer needed',
  'Moving house, please cancel',
] as const;
