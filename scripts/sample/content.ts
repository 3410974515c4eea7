/**
 * Words for synthetic articles: topics, people, places, sentences and figure captions. Everything
 * returned as markup is already valid XML text (escaped, with JATS inline elements), and uses the
 * numeric character references PMC writes (`&#x000b1;`), which a caption reader must decode.
 * Topic vocabulary is written as XML text already (it holds `<sup>` and character references);
 * only labels coming from the figure drawings are plain text and get escaped.
 */
import type { FigureKind } from './figures.js';
import type { PooledImage } from './images.js';
import type { Rng } from './prng.js';

export function esc(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

const PM = '&#x000b1;';
const MU = '&#x003bc;';
const NDASH = '&#x02013;';
const TIMES = '&#x000d7;';

export interface Topic {
  field: string;
  subjects: string[];
  diseases: string[];
  cells: string[];
  genes: string[];
  drugs: string[];
  outcomes: string[];
  pathways: string[];
  keywords: string[];
}

export const TOPICS: readonly Topic[] = [
  {
    field: 'Oncology',
    subjects: ['Oncology', 'Cancer Research', 'Cell Biology'],
    diseases: ['hepatocellular carcinoma', 'non-small cell lung cancer', 'colorectal cancer', 'triple-negative breast cancer', 'glioblastoma', 'gastric cancer', 'pancreatic ductal adenocarcinoma'],
    cells: ['HepG2', 'A549', 'HCT116', 'MDA-MB-231', 'U87', 'AGS', 'PANC-1', 'Huh7'],
    genes: ['TP53', 'EGFR', 'KRAS', 'MYC', 'STAT3', 'YAP1', 'EZH2', 'CDK4', 'PTEN', 'SOX2'],
    drugs: ['cisplatin', 'sorafenib', 'gefitinib', 'doxorubicin', '5-fluorouracil', 'paclitaxel'],
    outcomes: ['proliferation', 'migration', 'invasion', 'apoptosis', 'epithelial-mesenchymal transition', 'chemoresistance'],
    pathways: ['PI3K/AKT', 'Wnt/&#x003b2;-catenin', 'MAPK/ERK', 'JAK2/STAT3', 'Hippo', 'NF-&#x003ba;B'],
    keywords: ['tumour microenvironment', 'prognosis', 'biomarker', 'metastasis', 'immunotherapy', 'cell cycle'],
  },
  {
    field: 'Cardiology',
    subjects: ['Cardiology', 'Cardiovascular Medicine'],
    diseases: ['heart failure', 'atrial fibrillation', 'acute myocardial infarction', 'hypertension', 'coronary artery disease', 'cardiac hypertrophy'],
    cells: ['H9c2', 'HL-1', 'HUVEC', 'neonatal rat cardiomyocytes'],
    genes: ['NPPB', 'MYH7', 'SIRT1', 'NLRP3', 'TGFB1', 'ACE2', 'KLF4'],
    drugs: ['sacubitril/valsartan', 'empagliflozin', 'atorvastatin', 'metoprolol', 'dapagliflozin'],
    outcomes: ['fibrosis', 'hypertrophy', 'pyroptosis', 'mortality', 'rehospitalisation', 'ventricular remodelling'],
    pathways: ['TGF-&#x003b2;/Smad', 'AMPK/mTOR', 'NLRP3 inflammasome', 'calcineurin/NFAT'],
    keywords: ['echocardiography', 'ejection fraction', 'cohort study', 'risk factors', 'inflammation'],
  },
  {
    field: 'Neuroscience',
    subjects: ['Neuroscience', 'Neurology'],
    diseases: ["Alzheimer's disease", "Parkinson's disease", 'ischaemic stroke', 'multiple sclerosis', 'temporal lobe epilepsy', 'traumatic brain injury'],
    cells: ['SH-SY5Y', 'BV2 microglia', 'primary hippocampal neurons', 'PC12', 'primary astrocytes'],
    genes: ['APP', 'SNCA', 'TREM2', 'BDNF', 'GFAP', 'MAPT', 'APOE', 'LRRK2'],
    drugs: ['donepezil', 'levodopa', 'edaravone', 'minocycline', 'fingolimod'],
    outcomes: ['neuroinflammation', 'neuronal apoptosis', 'synaptic plasticity', 'cognitive decline', 'microglial activation'],
    pathways: ['TLR4/NF-&#x003ba;B', 'Nrf2/HO-1', 'BDNF/TrkB', 'cGAS-STING'],
    keywords: ['microglia', 'neurodegeneration', 'hippocampus', 'memory', 'blood-brain barrier'],
  },
  {
    field: 'Infectious Diseases',
    subjects: ['Infectious Diseases', 'Microbiology', 'Virology'],
    diseases: ['COVID-19', 'pulmonary tuberculosis', 'sepsis', 'influenza A (H1N1) infection', 'Plasmodium falciparum malaria', 'HIV-1 infection'],
    cells: ['Vero E6', 'THP-1', 'Calu-3', 'A549', 'peripheral blood mononuclear cells'],
    genes: ['ACE2', 'IFNB1', 'IL6', 'TNF', 'CXCL10', 'TLR7', 'ISG15'],
    drugs: ['remdesivir', 'dexamethasone', 'rifampicin', 'oseltamivir', 'artesunate'],
    outcomes: ['viral replication', 'cytokine release', 'bacterial clearance', 'disease severity', 'in-hospital mortality'],
    pathways: ['type I interferon', 'TLR7/MyD88', 'NLRP3 inflammasome', 'IL-6/JAK/STAT'],
    keywords: ['SARS-CoV-2', 'innate immunity', 'antimicrobial resistance', 'epidemiology', 'vaccination'],
  },
  {
    field: 'Immunology',
    subjects: ['Immunology', 'Rheumatology'],
    diseases: ['rheumatoid arthritis', 'systemic lupus erythematosus', 'ulcerative colitis', 'allergic asthma', 'psoriasis'],
    cells: ['RAW264.7', 'Jurkat', 'CD4<sup>+</sup> T cells', 'bone marrow-derived macrophages', 'fibroblast-like synoviocytes'],
    genes: ['FOXP3', 'IL17A', 'IFNG', 'IL10', 'RORC', 'TNF', 'CD274'],
    drugs: ['tofacitinib', 'methotrexate', 'adalimumab', 'hydroxychloroquine'],
    outcomes: ['Th17 differentiation', 'macrophage polarisation', 'autoantibody production', 'joint destruction', 'colitis severity'],
    pathways: ['JAK/STAT', 'NF-&#x003ba;B', 'mTORC1', 'IL-23/IL-17'],
    keywords: ['regulatory T cells', 'autoimmunity', 'cytokines', 'inflammation', 'single-cell RNA sequencing'],
  },
  {
    field: 'Endocrinology',
    subjects: ['Endocrinology', 'Metabolism'],
    diseases: ['type 2 diabetes', 'obesity', 'non-alcoholic fatty liver disease', 'diabetic nephropathy', 'postmenopausal osteoporosis'],
    cells: ['3T3-L1 adipocytes', 'INS-1', 'HepG2', 'C2C12 myotubes', 'MC3T3-E1'],
    genes: ['PPARG', 'SLC2A4', 'INS', 'LEP', 'FGF21', 'SREBF1', 'RUNX2'],
    drugs: ['metformin', 'liraglutide', 'pioglitazone', 'semaglutide', 'alendronate'],
    outcomes: ['insulin resistance', 'lipid accumulation', 'glucose uptake', 'hepatic steatosis', 'bone loss'],
    pathways: ['AMPK', 'insulin/IRS-1/PI3K', 'PPAR&#x003b3;', 'RANKL/OPG'],
    keywords: ['glucose metabolism', 'adipose tissue', 'lipid metabolism', 'body mass index', 'HbA1c'],
  },
];

const SURNAMES = ['Wang', 'Li', 'Zhang', 'Chen', 'Liu', 'Smith', 'Johnson', 'Müller', 'García', 'Rossi', 'Kim', 'Park', 'Nguyen', 'Tanaka', 'Sato', 'Silva', 'Santos', 'Kowalski', 'Novak', 'Andersson', 'Jensen', "O'Brien", 'Dubois', 'Martin', 'Kumar', 'Singh', 'Patel', 'Ahmed', 'Hassan', 'Cohen', 'van der Berg', 'De Luca', 'Ivanova', 'Okafor', 'Mensah', 'Yilmaz', 'Fernández', 'Schmidt', 'Nielsen', 'Brown'];
const GIVEN = ['Wei', 'Jing', 'Xiaoming', 'Yan', 'John', 'Emily', 'Anna', 'Carlos', 'Giulia', 'Min-jun', 'Seo-yeon', 'Linh', 'Hiroshi', 'Yuki', 'João', 'Ana', 'Piotr', 'Jana', 'Erik', 'Sofie', 'Aoife', 'Camille', 'Thomas', 'Priya', 'Arjun', 'Rahul', 'Fatima', 'Omar', 'Noa', 'Pieter', 'Marco', 'Olga', 'Chinedu', 'Kwame', 'Elif', 'Lucía', 'Katrin', 'Lars', 'David', 'Sarah J'];
const INSTITUTIONS = [
  'Department of Pathology, School of Medicine, Zhejiang University, Hangzhou, China',
  'Department of Cardiology, Charité – Universitätsmedizin Berlin, Berlin, Germany',
  'Division of Infectious Diseases, Massachusetts General Hospital, Boston, MA, USA',
  'Institute of Neuroscience, Newcastle University, Newcastle upon Tyne, UK',
  'Department of Internal Medicine, Seoul National University Hospital, Seoul, Republic of Korea',
  'Graduate School of Medicine, Kyoto University, Kyoto, Japan',
  'Faculdade de Medicina, Universidade de São Paulo, São Paulo, Brazil',
  'Department of Immunology, Karolinska Institutet, Stockholm, Sweden',
  'Centre for Tropical Medicine, University of Oxford, Oxford, UK',
  'Department of Endocrinology, Rigshospitalet, Copenhagen, Denmark',
  'Instituto de Salud Carlos III, Madrid, Spain',
  'Department of Biochemistry, All India Institute of Medical Sciences, New Delhi, India',
  'School of Public Health, University of Ghana, Accra, Ghana',
  'Department of Medical Oncology, Istituto Nazionale dei Tumori, Milan, Italy',
  'Key Laboratory of Molecular Biology, Sun Yat-sen University, Guangzhou, China',
  'Department of Surgery, Erasmus MC, Rotterdam, The Netherlands',
];
const PLACES = ['Wuhan, China', 'northern Italy', 'a tertiary hospital in Seoul', 'rural Ghana', 'the UK Biobank', 'São Paulo, Brazil', 'Denmark', 'a multicentre US cohort'];
const SOURCES = ['Nature', 'Cell', 'Lancet', 'N Engl J Med', 'J Clin Invest', 'Cancer Res', 'Circulation', 'Neuron', 'J Immunol', 'Diabetes', 'Nucleic Acids Res', 'PLoS One', 'Sci Rep', 'Front Immunol', 'Oncogene', 'Blood', 'Gut', 'Hepatology', 'Brain', 'Clin Infect Dis'];

export interface Person {
  surname: string;
  given: string;
}

export function person(rng: Rng): Person {
  return { surname: rng.pick(SURNAMES), given: rng.pick(GIVEN) };
}

export function institutions(rng: Rng, n: number): string[] {
  return rng.sample(INSTITUTIONS, n);
}

/** What one article is about; sentences and captions draw their nouns from it. */
export interface Theme {
  topic: Topic;
  disease: string;
  cell: string;
  gene: string;
  gene2: string;
  drug: string;
  outcome: string;
  pathway: string;
  n: number;
}

export function theme(rng: Rng): Theme {
  const topic = rng.pick(TOPICS);
  const [gene, gene2] = rng.sample(topic.genes, 2) as [string, string];
  return {
    topic,
    disease: rng.pick(topic.diseases),
    cell: rng.pick(topic.cells),
    gene,
    gene2,
    drug: rng.pick(topic.drugs),
    outcome: rng.pick(topic.outcomes),
    pathway: rng.pick(topic.pathways),
    n: rng.int(24, 2400),
  };
}

function cap(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

/** Title as XML text (gene names in italics, as journals set them). */
export function title(rng: Rng, t: Theme): string {
  const d = t.disease;
  const g = `<italic>${t.gene}</italic>`;
  return rng.pick([
    `${g} promotes ${t.outcome} in ${d} via the ${t.pathway} signalling pathway`,
    `Association between ${t.gene} expression and clinical outcomes in ${d}: a retrospective cohort study`,
    `${cap(t.drug)} attenuates ${t.outcome} in a mouse model of ${d}`,
    `Clinical characteristics and outcomes of ${t.n} patients with ${d} in ${esc(rng.pick(PLACES))}`,
    `Single-cell transcriptomics reveals a ${t.gene2}-high subpopulation that drives ${t.outcome} in ${d}`,
    `Long non-coding RNA ${rng.pick(['MALAT1', 'HOTAIR', 'NEAT1', 'H19', 'XIST'])} regulates ${t.outcome} through the miR-${rng.int(17, 700)}-${rng.int(3, 5)}p/${g} axis in ${d}`,
    `Diagnostic accuracy of ${rng.pick(['CT', 'MRI', 'ultrasound', 'PET/CT', 'serum biomarkers'])} for ${d}: a systematic review and meta-analysis`,
    `Loss of ${g} sensitises ${t.cell} cells to ${t.drug}`,
  ]);
}

const STAT = (rng: Rng): string =>
  rng.pick([`<italic>P</italic> &lt; 0.001`, `<italic>P</italic> = 0.0${rng.int(1, 4)}`, `<italic>P</italic> &lt; 0.05`, `95% CI ${rng.int(1, 2)}.${rng.int(0, 9)}${NDASH}${rng.int(3, 6)}.${rng.int(0, 9)}`]);

/** One sentence of running text as XML; `xref` (already markup) is woven in when given. */
export function sentence(rng: Rng, t: Theme, xref?: string): string {
  const d = t.disease;
  const c = t.cell;
  const g = `<italic>${t.gene}</italic>`;
  const ref = xref ? ` (${xref})` : '';
  return rng.pick([
    `${cap(d)} remains a leading cause of morbidity worldwide, and effective therapies are still limited${ref}.`,
    `Knockdown of ${g} significantly reduced the ${t.outcome} of ${c} cells compared with the control group${ref}.`,
    `Treatment with ${t.drug} (${rng.int(1, 50)} ${MU}M) decreased the phosphorylation of key components of the ${t.pathway} pathway${ref}.`,
    `The expression of ${t.gene2} was positively correlated with ${t.gene} in ${t.n} clinical samples (r = 0.${rng.int(30, 89)}, ${STAT(rng)})${ref}.`,
    `Patients with high ${t.gene} expression had shorter overall survival than those with low expression (HR = ${rng.int(1, 3)}.${rng.int(0, 9)}, ${STAT(rng)})${ref}.`,
    `Mice were randomly assigned to ${rng.int(2, 4)} groups (<italic>n</italic> = ${rng.int(5, 12)} per group) and followed for ${rng.int(2, 12)} weeks${ref}.`,
    `Data are presented as mean ${PM} standard deviation from at least three independent experiments${ref}.`,
    `These findings suggest that ${g} acts upstream of ${t.pathway} signalling in ${d}${ref}.`,
    `Previous studies have implicated ${t.pathway} signalling in ${t.outcome}, but its role in ${d} is not fully understood${ref}.`,
    `Immunohistochemistry showed strong ${t.gene2} staining in ${rng.int(40, 80)}% of tumour sections${ref}.`,
    `Serum levels of IL-6 and TNF-&#x003b1; were elevated ${rng.int(2, 6)}.${rng.int(1, 9)}-fold after ${rng.int(6, 72)} h${ref}.`,
    `Cells were cultured in DMEM supplemented with 10% fetal bovine serum at 37 &#x000b0;C in 5% CO<sub>2</sub>${ref}.`,
    `Statistical analyses were performed with R version 4.${rng.int(0, 3)}.${rng.int(0, 3)} and GraphPad Prism ${rng.int(7, 10)}${ref}.`,
    `Overexpression of ${g} rescued the effect of ${t.drug} on ${t.outcome}${ref}.`,
    `A total of ${t.n} participants were included, of whom ${rng.int(35, 65)}% were women${ref}.`,
    `In line with these results, CD8<sup>+</sup> T-cell infiltration was reduced in the ${t.gene}-high group${ref}.`,
  ]);
}

export function paragraph(rng: Rng, t: Theme, xrefs: string[] = []): string {
  const count = rng.int(3, 6);
  const slots = new Map<number, string>();
  for (const x of xrefs) {
    let i = rng.int(0, count - 1);
    while (slots.has(i) && slots.size < count) i = (i + 1) % count;
    slots.set(i, slots.has(i) ? `${slots.get(i)}; ${x}` : x);
  }
  const out: string[] = [];
  for (let i = 0; i < count; i++) out.push(sentence(rng, t, slots.get(i)));
  return out.join(' ');
}

export function keywords(rng: Rng, t: Theme): string[] {
  return [t.disease, t.gene, ...rng.sample(t.topic.keywords, rng.int(2, 4))];
}

const INLINE_MATH = [
  '<mml:math id="M{n}" display="inline"><mml:mi>P</mml:mi><mml:mo>&lt;</mml:mo><mml:mn>0.05</mml:mn></mml:math>',
  '<mml:math id="M{n}" display="inline"><mml:msub><mml:mi>IC</mml:mi><mml:mn>50</mml:mn></mml:msub></mml:math>',
  '<mml:math id="M{n}" display="inline"><mml:mrow><mml:msup><mml:mi>R</mml:mi><mml:mn>2</mml:mn></mml:msup><mml:mo>=</mml:mo><mml:mn>0.87</mml:mn></mml:mrow></mml:math>',
  '<mml:math id="M{n}" display="inline"><mml:mrow><mml:mn>2</mml:mn><mml:mo>&#x02212;</mml:mo><mml:mi>&#x00394;&#x00394;</mml:mi><mml:msub><mml:mi>C</mml:mi><mml:mi>t</mml:mi></mml:msub></mml:mrow></mml:math>',
];

/** A caption that describes what the pooled image shows: [title, paragraphs] as XML. */
export function caption(rng: Rng, t: Theme, image: Pick<PooledImage, 'kind' | 'labels'>, ids: { math: number }): { title: string; paragraphs: string[] } {
  const d = t.disease;
  const c = t.cell;
  const g = `<italic>${t.gene}</italic>`;
  const series = image.labels.series.map(esc);
  const titles: Record<FigureKind, string[]> = {
    line: [`${cap(esc(image.labels.y))} over time in the indicated groups.`, `Time course of ${t.outcome} after ${t.drug} treatment.`],
    bar: [`${g} knockdown reduces ${t.outcome} of ${c} cells.`, `Quantification of ${esc(image.labels.y.toLowerCase())} across groups.`],
    scatter: [`Correlation between ${t.gene} and ${t.gene2} expression.`, `${cap(esc(image.labels.y))} as a function of ${esc(image.labels.x.toLowerCase())}.`],
    boxplot: [`${t.gene} expression in ${d} and control tissues.`, `Distribution of ${esc(image.labels.y.toLowerCase())} by group.`],
    survival: [`Kaplan${NDASH}Meier analysis of patients with ${d} stratified by ${t.gene} expression.`, `High ${g} expression predicts poor survival.`],
    heatmap: [`Heat map of differentially expressed genes.`, `Hierarchical clustering of ${series.length} genes in control (C) and treated (T) samples.`],
    blot: [`Western blot analysis of ${series.slice(0, 3).join(', ')} in ${c} cells.`, `${cap(t.drug)} inhibits the ${t.pathway} pathway.`],
    microscopy: [`Representative immunofluorescence images of ${c} cells.`, `Confocal microscopy of ${t.gene2} localisation.`],
    histology: [`Representative H&amp;E staining of tissue sections.`, `Histopathological changes in the ${rng.pick(['liver', 'lung', 'kidney', 'colon', 'synovium'])} of model mice.`],
    radiograph: [`${series[0] === 'CT' ? 'Chest CT' : 'Chest radiograph'} of a patient with ${d}.`, `Imaging findings on admission and follow-up.`],
    flowchart: [`Flow diagram of participant selection.`, `Study flow chart.`],
    panels: [`${g} regulates ${t.outcome} in ${d}.`, `Effect of ${t.drug} on ${t.outcome} in vitro and in vivo.`],
  };
  const body: string[] = [];
  if (image.labels.panels > 1) {
    for (let i = 0; i < image.labels.panels; i++) body.push(`(${String.fromCharCode(65 + i)}) ${sentence(rng, t).replace(/\.$/, '')}.`);
  } else if (image.kind === 'microscopy') {
    body.push(`Nuclei were counterstained with DAPI (blue); ${series[1] ?? 'the marker'} is shown in colour. Scale bar, ${rng.pick([10, 20, 50])} ${MU}m.`);
  } else if (image.kind === 'histology') {
    body.push(`Original magnification ${rng.pick([100, 200, 400])}${TIMES}. Scale bar, ${rng.pick([50, 100, 200])} ${MU}m.`);
  } else if (image.kind === 'radiograph') {
    body.push(`${rng.pick(['Bilateral ground-glass opacities', 'Patchy consolidation in the right lower lobe', 'A well-defined nodule'])} ${rng.pick(['(arrow)', 'is visible', 'was observed on day ' + rng.int(2, 14)])}.`);
  } else if (image.kind === 'flowchart') {
    body.push(`Numbers of records at each stage of screening are shown; reasons for exclusion are given in the boxes on the right.`);
  } else if (image.kind === 'blot') {
    body.push(`${series.slice(0, 3).join(', ')} levels were quantified by densitometry and normalised to ${rng.pick(['&#x003b2;-actin', 'GAPDH', 'total protein'])}.`);
  } else if (image.kind === 'heatmap') {
    body.push(`Colours show row-scaled z-scores of log<sub>2</sub>-transformed expression; C, control; T, treated.`);
  } else if (series.length > 0) {
    body.push(`Groups: ${series.slice(0, 4).join(', ')}.`);
  }
  if (['bar', 'boxplot', 'line', 'panels'].includes(image.kind)) {
    body.push(`Data are mean ${PM} ${rng.pick(['SD', 'SEM'])} (<italic>n</italic> = ${rng.int(3, 8)}). *<italic>P</italic> &lt; 0.05, **<italic>P</italic> &lt; 0.01, ***<italic>P</italic> &lt; 0.001 versus ${rng.pick(['control', 'vehicle', 'sham', 'WT'])}.`);
  }
  if (rng.chance(0.15)) {
    ids.math += 1;
    const math = rng.pick(INLINE_MATH).replace('{n}', String(ids.math));
    body.push(`Significance was set at <inline-formula>${math}</inline-formula> (${rng.pick(['two-tailed Student&#x02019;s <italic>t</italic>-test', 'one-way ANOVA with Tukey&#x02019;s post hoc test', 'Mann&#x02013;Whitney <italic>U</italic> test'])}).`);
  }
  // Some captions are one paragraph, some several, as in real articles.
  const paragraphs = body.length > 1 && rng.chance(0.35) ? body : [body.join(' ')];
  return { title: rng.pick(titles[image.kind]), paragraphs: paragraphs.filter((p) => p.length > 0) };
}

export interface Reference {
  authors: Person[];
  title: string;
  source: string;
  year: number;
  volume: number;
  fpage: number;
  lpage: number;
  pmid: string | null;
  doi: string | null;
}

export function reference(rng: Rng, t: Theme, maxYear: number): Reference {
  const year = rng.int(maxYear - 25, maxYear);
  const fpage = rng.int(1, 9000);
  return {
    authors: Array.from({ length: rng.int(1, 6) }, () => person(rng)),
    title: sentence(rng, t).replace(/<[^>]+>/g, '').replace(/\s*\([^)]*\)\s*\.$/, '.'),
    source: rng.pick(SOURCES),
    year,
    volume: rng.int(1, 400),
    fpage,
    lpage: fpage + rng.int(1, 20),
    pmid: rng.chance(0.85) ? String(rng.int(1_000_000, 39_000_000)) : null,
    doi: rng.chance(0.7) ? `10.${rng.int(1000, 9999)}/${rng.pick(['j', 's', 'nature', 'cr'])}.${year}.${rng.int(1000, 99999)}` : null,
  };
}
