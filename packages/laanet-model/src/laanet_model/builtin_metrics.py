"""The measured figures of the built-in weights, as their card states them (``assets/<name>.json``).

Written out here so that the registry entry is complete without reading a file; the registry tests check that
they agree with the card field by field. Every figure names its data in its ``protocol``.
"""

from __future__ import annotations

from typing import Any

BUILTIN_METRICS: dict[str, Any] = {'dfdc_crops': {'ap': 0.5459,
                'auc': 0.5357,
                'fake_called_fake': 0.3333,
                'n_fake': 33,
                'n_real': 34,
                'no_face_found': 2,
                'protocol': 'frame level: every image of dfdc-crops/real and dfdc-crops/fake through '
                            "Detector.predict_image (the card's face finder and crop recipe, flip test); the "
                            'frame logit is the most fake face; an image with no face found is warped whole '
                            'to the input size and scored as one face. Never used for training, selection or '
                            'calibration.',
                'real_called_fake': 0.3529},
 'groups_faces': {'called_fake': 1, 'false_positive_rate': 0.0714, 'median_prob': 0.4552, 'n': 14},
 'lfw_heldout_resolutions': {'0.5x area': {'called_fake': 1,
                                           'false_positive_rate': 0.0167,
                                           'median_prob': 0.0029,
                                           'n': 60,
                                           'no_face_found': 0},
                             '1x': {'called_fake': 1,
                                    'false_positive_rate': 0.0167,
                                    'median_prob': 0.0042,
                                    'n': 60,
                                    'no_face_found': 0},
                             '4x cubic': {'called_fake': 1,
                                          'false_positive_rate': 0.0167,
                                          'median_prob': 0.0058,
                                          'n': 60,
                                          'no_face_found': 0}},
 'portraits_reported': {'called_fake': 3,
                        'false_positive_rate': 0.0968,
                        'images': 31,
                        'median_prob': 0.0203,
                        'n': 31,
                        'no_face_found': 0},
 'real_photos': {'called_fake': 4,
                 'false_positive_rate': 0.0556,
                 'median_prob': 0.0387,
                 'n': 72,
                 'protocol': 'fraction of real photos called fake (probability above fake_above): the '
                             'reported halves of faces/portraits and faces/realworld (every image) and every '
                             'face of faces/groups, pooled; never used for calibration or selection'},
 'realworld': {'called_fake': 0,
               'false_positive_rate': 0.0,
               'images': 27,
               'median_prob': 0.023,
               'n': 27,
               'no_face_found': 0},
 'resolution_consistency': {'max_abs_prob_change': 0.9797,
                            'median_abs_logit_change': 1.134,
                            'median_abs_prob_change': 0.0141,
                            'n': 29,
                            'p90_abs_logit_change': 4.9328,
                            'protocol': 'reported portraits: |change| of the frame logit and probability '
                                        'when the photo is shrunk to a quarter of its side (area averaging)'},
 'resolution_sweep': {'images': 31,
                      'max_prob_spread': 0.9947,
                      'median_prob_spread': 0.0129,
                      'n': 31,
                      'protocol': 'reported portraits, each saved at 240p, 480p, 720p, 1080p (area averaging '
                                  'when shrinking, bicubic when enlarging): the spread (max - min) of its '
                                  'fake probability; within_tolerance is the share of photos with a spread '
                                  'of at most 0.2 (photos with no judged face at some height are left out)',
                      'within_tolerance': 0.7419},
 'synthetic_test': {'bi': {'ap': 0.8993, 'auc': 0.8619, 'fakes_called_fake': 0.2667, 'n_pairs': 60},
                    'protocol': '60 LFW faces of peopleDevTest.txt identities not used by the synthetic '
                                'validation, one per person; each with one SBI fake and one BI fake (donor '
                                "from another of these people), crops from the card's recipe, flip test",
                    'sbi': {'ap': 0.9578, 'auc': 0.9461, 'fakes_called_fake': 0.6167, 'n_pairs': 60}},
 'synthetic_val': {'acc_at_0.5': 0.882, 'ap': 0.9604, 'auc': 0.9488, 'loss': 1.3224, 'n_pairs': 250}}
