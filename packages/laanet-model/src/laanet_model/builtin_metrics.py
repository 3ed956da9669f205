"""The measured figures of the built-in weights, as their card states them (``assets/<name>.json``).

Written out here so that the registry entry is complete without reading a file; the registry tests check that
they agree with the card field by field. Every figure names its data in its ``protocol``.
"""

from __future__ import annotations

from typing import Any

BUILTIN_METRICS: dict[str, Any] = {'dfdc_crops': {'ap': 0.6555,
                'auc': 0.6248,
                'fake_called_fake': 0.5758,
                'n_fake': 33,
                'n_real': 34,
                'no_face_found': 2,
                'protocol': 'frame level: every image of dfdc-crops/real and dfdc-crops/fake through '
                            "Detector.predict_image (the card's face finder and crop recipe, flip test); the "
                            'frame logit is the most fake face; an image with no face found is warped whole '
                            'to the input size and scored as one face. Never used for training, selection or '
                            'calibration.',
                'real_called_fake': 0.3529},
 'groups_faces': {'called_fake': 7, 'false_positive_rate': 0.5, 'median_prob': 0.0997, 'n': 14},
 'lfw_heldout_resolutions': {'0.5x area': {'called_fake': 2,
                                           'false_positive_rate': 0.0333,
                                           'median_prob': 0.0039,
                                           'n': 60,
                                           'no_face_found': 0},
                             '1x': {'called_fake': 7,
                                    'false_positive_rate': 0.1167,
                                    'median_prob': 0.0059,
                                    'n': 60,
                                    'no_face_found': 0},
                             '4x cubic': {'called_fake': 7,
                                          'false_positive_rate': 0.1167,
                                          'median_prob': 0.0067,
                                          'n': 60,
                                          'no_face_found': 0}},
 'portraits_reported': {'called_fake': 6,
                        'false_positive_rate': 0.1935,
                        'images': 31,
                        'median_prob': 0.003,
                        'n': 31,
                        'no_face_found': 0},
 'real_photos': {'called_fake': 20,
                 'false_positive_rate': 0.202,
                 'median_prob': 0.004,
                 'n': 99,
                 'protocol': 'fraction of real photos called fake (probability above fake_above): the '
                             'reported half of faces/portraits, every face of faces/groups and every image '
                             'of faces/realworld pooled; never used for calibration or selection'},
 'realworld': {'called_fake': 7,
               'false_positive_rate': 0.1296,
               'median_prob': 0.0031,
               'n': 54,
               'no_face_found': 0},
 'resolution_consistency': {'max_abs_prob_change': 0.9661,
                            'median_abs_logit_change': 0.4123,
                            'median_abs_prob_change': 0.0007,
                            'n': 29,
                            'p90_abs_logit_change': 2.1213,
                            'protocol': 'reported portraits: |change| of the frame logit and probability '
                                        'when the photo is shrunk to a quarter of its side (area averaging)'},
 'synthetic_test': {'bi': {'ap': 0.8768, 'auc': 0.8383, 'fakes_called_fake': 0.5667, 'n_pairs': 60},
                    'protocol': '60 LFW faces of peopleDevTest.txt identities not used by the synthetic '
                                'validation, one per person; each with one SBI fake and one BI fake (donor '
                                "from another of these people), crops from the card's recipe, flip test",
                    'sbi': {'ap': 0.9594, 'auc': 0.9458, 'fakes_called_fake': 0.75, 'n_pairs': 60}},
 'synthetic_val': {'acc_at_0.5': 0.864, 'ap': 0.9447, 'auc': 0.9208, 'loss': 1.4595, 'n_pairs': 250}}
